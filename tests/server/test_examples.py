"""uai.examples and uai.images: requests read as examples (JSON arrays or images), one model
call per shape, an unreadable body refused alone, image answers UAI's way."""

import io
import json
import types

import numpy as np
import pytest
from PIL import Image
from uai.examples import ModelInput, json_array, refusal
from uai.images import ImageInput, image_format


class Body(io.BytesIO):
    """A request as the server hands it over: readable, with `.body` and a content type."""

    def __init__(self, body: bytes, content_type: str = ""):
        super().__init__(body)
        self.body, self.content_type = body, content_type


def image_bytes(pixels: np.ndarray, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, kind)
    return out.getvalue()


def model(framework: str, **section):
    """A stand-in UAI model object: what ModelInput reads from one (its type and conf section)."""
    return types.SimpleNamespace(model_type=framework, section=section)


DIGIT = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)


def test_a_refusal_is_a_uai_tuple_with_a_json_error():
    body, status, headers = refusal("no good")
    assert (json.loads(body), status, headers) == (
        {"error": "no good"},
        400,
        {"Content-Type": "application/json"},
    )


def test_json_array_takes_numeric_json_of_the_given_shape_only():
    [good, wrong_width, text, scalar, empty] = [
        Body(t) for t in (b"[1, 2]", b"[1, 2, 3]", b'"x"', b"7", b"[]")
    ]
    assert json_array(good, "float32", (2,)).tolist() == [1.0, 2.0]
    assert json_array(wrong_width, "float32", (2,)) is None
    assert json_array(text) is None and json_array(scalar) is None and json_array(empty) is None
    assert json_array(Body(b"[[1], [2]]"), "float32", (None, 1)).shape == (2, 1)


def test_a_100000_deep_json_array_is_refused_alone_and_the_rest_of_the_batch_answered():
    deep = b"[" * 100_000 + b"]" * 100_000
    inputs = ModelInput((2,))

    answers = inputs.answer([Body(b"[1, 2]"), Body(deep), Body(b"[3, 4]")], lambda batch: batch.sum(axis=1))

    assert answers[0] == 3.0 and answers[2] == 7.0
    body, status, _ = answers[1]
    assert status == 400 and "JSON array of shape [2]" in json.loads(body)["error"]


def test_one_predict_call_per_shape_with_the_examples_in_order():
    calls = []

    def predict(batch):
        calls.append(batch.shape)
        return batch.sum(axis=1)

    answers = ModelInput(None).answer([Body(b"[1, 2]"), Body(b"[1, 2, 3]"), Body(b"[3, 4]")], predict)

    assert sorted(calls) == [(1, 3), (2, 2)]
    assert answers == [3.0, 6.0, 7.0]


class ShapeError(Exception):
    pass


def test_a_group_the_model_rejects_gets_a_400_naming_its_shape_and_the_others_are_answered():
    def predict(batch):
        if batch.shape[1] == 3:
            raise ShapeError("expected 2 features\nbut got 3")
        return batch.sum(axis=1)

    answers = ModelInput(None).answer([Body(b"[1, 2]"), Body(b"[1, 2, 3]")], predict, (ShapeError,))

    assert answers[0] == 3.0
    body, status, _ = answers[1]
    assert status == 400 and "shape [3]" in body and "but got 3" in body


def test_predict_returning_the_wrong_count_fails_loudly():
    with pytest.raises(ValueError):
        ModelInput((1,)).answer([Body(b"[1]"), Body(b"[2]")], lambda batch: [0.0])


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "BMP", "GIF", "WEBP"])
def test_every_image_format_is_recognised_by_its_own_magic_bytes_and_decoded(kind):
    body = image_bytes(DIGIT, kind)
    fit = ImageInput.for_shape([28, 28, 1], {"pixel_std": 255})

    assert image_format(body) is not None
    example = fit.example(body)
    assert example.shape == (28, 28, 1) and example.dtype == np.float32
    if kind in ("PNG", "BMP", "GIF"):  # lossless for a grey image
        np.testing.assert_allclose(example[:, :, 0], DIGIT / 255, atol=1e-6)


def test_an_image_is_recognised_by_its_content_type_too():
    assert image_format(b"anything", "image/x-custom; q=1") == "X-CUSTOM"
    assert image_format(b"[1, 2]", "application/json") is None


@pytest.mark.parametrize(
    ("shape", "layout", "example_shape"),
    [
        ([784], "flat", (784,)),  # UAI's Keras MNIST: (-1, 784)
        ([28, 28], "HW", (28, 28)),
        ([28, 28, 1], "NHWC", (28, 28, 1)),
        ([1, 28, 28], "NCHW", (1, 28, 28)),
        ([3, 32, 32], "NCHW", (3, 32, 32)),
        ([32, 32, 3], "NHWC", (32, 32, 3)),
        ([2352], "flat", (2352,)),  # 28 x 28 x 3
    ],
)
def test_an_image_is_fitted_to_the_models_declared_input(shape, layout, example_shape):
    fit = ImageInput.for_shape(shape, {})
    big_colour = np.random.default_rng(0).integers(0, 256, size=(50, 40, 3), dtype=np.uint8)

    assert fit.layout == layout
    assert fit.example(image_bytes(big_colour)).shape == example_shape


def test_an_input_that_is_no_image_says_why():
    assert "not an image" in ImageInput.for_shape([5], {})
    assert "not an image" in ImageInput.for_shape([2, 3, 4, 5], {})


def test_pixels_are_scaled_by_the_conf_keys_per_channel():
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255
    fit = ImageInput.for_shape([3, 2, 2], {"pixel_mean": [255, 0, 0], "pixel_std": [1, 1, 2]})
    np.testing.assert_array_equal(fit.example(image_bytes(red)), np.zeros((3, 2, 2)))
    bgr = ImageInput.for_shape([2, 2, 3], {"channel_order": "BGR"}).example(image_bytes(red))
    assert bgr[0, 0].tolist() == [0.0, 0.0, 255.0]


def test_the_opencv_decoder_gives_the_pillow_decoders_pixels():
    body = image_bytes(DIGIT)
    pillow = ImageInput.for_shape([1, 28, 28], {}).example(body)
    opencv = ImageInput.for_shape([1, 28, 28], {}, decoder="opencv").example(body)
    np.testing.assert_array_equal(pillow, opencv)


def test_images_are_answered_with_the_class_as_text_by_default_and_json_when_asked():
    scores = lambda batch: np.tile([0.1, 0.2, 0.7], (len(batch), 1))  # noqa: E731
    body = Body(image_bytes(DIGIT), "image/png")

    text = ModelInput.for_model(model("keras"), [784]).answer(
        [body, Body(b"[" + b"0," * 783 + b"0]")], scores
    )
    as_json = ModelInput.for_model(model("keras", image_answer="json"), [784]).answer([body], scores)

    assert text[0] == "2\n" and text[1] == [0.1, 0.2, 0.7]  # JSON bodies keep the model's output
    assert as_json == [{"class": 2, "scores": [0.1, 0.2, 0.7]}]


def test_a_batch_of_images_of_one_shape_goes_through_the_model_in_one_call_and_bad_bodies_alone_get_400():
    calls = []

    def predict(batch):
        calls.append(batch.shape)
        return np.eye(10)[[3] * len(batch)]

    png, jpeg = image_bytes(DIGIT), image_bytes(DIGIT, "JPEG")
    broken = png[:40]  # a PNG's magic bytes, then nothing
    batch = [Body(png), Body(b"not json"), Body(jpeg), Body(broken), Body(png, "image/png")]

    answers = ModelInput.for_model(model("keras"), [28, 28, 1]).answer(batch, predict)

    assert calls == [(3, 28, 28, 1)]
    assert [answers[i] for i in (0, 2, 4)] == ["3\n"] * 3
    assert "must be an image" in json.loads(answers[1][0])["error"] and answers[1][1] == 400
    assert "cannot be decoded" in json.loads(answers[3][0])["error"] and answers[3][1] == 400


def test_the_registry_gives_each_framework_uais_pixel_scaling():
    body = image_bytes(np.full((28, 28), 255, np.uint8))
    keras = ModelInput.for_model(model("keras"), [784]).read(Body(body))
    caffe = ModelInput.for_model(model("caffe"), None, image_shape=[1, 28, 28]).read(Body(body))
    assert keras.array.max() == pytest.approx(1.0) and caffe.array.max() == 255.0  # / 255 and raw


def test_torchscript_images_are_fitted_to_the_conf_input_shape():
    inputs = ModelInput.for_model(model("pytorch", input_shape=[1, 8, 8]), None)
    assert inputs.read(Body(image_bytes(DIGIT))).array.shape == (1, 8, 8)


def test_a_model_without_an_image_input_refuses_images_with_the_reason():
    answers = ModelInput.for_model(model("sklearn"), [4]).answer([Body(image_bytes(DIGIT))], lambda b: b)
    assert "an image was sent, but" in json.loads(answers[0][0])["error"]


def test_a_pure_python_service_can_import_the_helpers_without_numpy_in_its_image():
    import subprocess
    import sys
    from pathlib import Path

    import uai

    server = str(Path(uai.__file__).parent.parent)
    code = f"import sys; sys.path.insert(0, {server!r}); import uai.examples; print('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


HOSTILE_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,  # RecursionError in json.loads
    b"\xff\xfe[0.1, 0.9]",  # not UTF-8
    b'{"scores": [0.1]}',  # the wrong shape
    b"[" + b"0.5, " * 200_000 + b"x]",  # large, and invalid at its very end
    b"",
]


def test_the_self_stub_refuses_each_hostile_body_alone_and_answers_the_rest_of_its_batch():
    import importlib.util
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "code" / "_stubs" / "self.py"
    )
    spec = importlib.util.spec_from_file_location("stub_self_hostile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stub = module.MnistModel({"http_server": {"exec": {}}})
    batch = [Body(b"[0.1, 0.9]"), *(Body(body) for body in HOSTILE_BODIES), Body(b"[0.7, 0.2, 0.1]")]

    answers = stub.execute(batch, len(batch))

    assert answers[0] == "1" and answers[-1] == "0"
    for answer in answers[1:-1]:
        body, status, _ = answer
        assert status == 400 and "JSON list of numbers" in json.loads(body)["error"]


def test_model_input_refuses_each_hostile_body_alone_and_answers_the_rest_of_its_batch():
    inputs = ModelInput((2,))
    batch = [Body(b"[1, 2]"), *(Body(body) for body in HOSTILE_BODIES), Body(b"[3, 4]")]

    answers = inputs.answer(batch, lambda rows: rows.sum(axis=1))

    assert answers[0] == 3.0 and answers[-1] == 7.0
    assert [answer[1] for answer in answers[1:-1]] == [400] * len(HOSTILE_BODIES)
