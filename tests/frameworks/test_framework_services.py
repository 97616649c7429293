"""Every framework, for real: a tiny real model served by the baked project's stub, on the host
and in a container, answering what the same model answers when run directly."""

from __future__ import annotations

import json

import pytest

from frameworks.conftest import BakedModel, assert_close, bake, load_stub, request
from frameworks.models import MAKERS, Case, make_keras

FRAMEWORKS = list(MAKERS)
VISION = ["keras", "caffe", "tensorflow", "pytorch", "onnx"]
each_framework = pytest.mark.parametrize("baked", FRAMEWORKS, indirect=True)
each_vision_framework = pytest.mark.parametrize("baked", VISION, indirect=True)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_fresh_project_has_its_catalogue_packages_and_framework_readme(tmp_path, framework):
    from uaipack.catalogue import for_framework
    from uaipack.wheels import requirement_lines

    project = bake(tmp_path, framework)

    assert requirement_lines(project / "requirements.txt") == list(for_framework(framework).packages)
    readme = (project / "README.framework.md").read_text()
    assert "{{" not in readme
    assert "code/checkpoint_dir/" in readme


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_fresh_project_ships_no_sample_of_another_framework(tmp_path, framework):
    project = bake(tmp_path, framework)

    shipped = [path.name for path in (project / "samples").glob("*")]
    assert sorted(set(shipped) - {".gitkeep", "README.md"}) == []


@each_framework
def test_invoke_conf_accepts_the_model_files_in_checkpoint_dir(baked):
    result = baked.invoke("conf")
    assert result.returncode == 0, result.stdout + result.stderr
    conf = json.loads((baked.project / "conf.json").read_text())
    assert conf["http_server"]["exec"]["main_class"] == "MnistModel"
    assert baked.framework in conf["http_server"]


@each_framework
def test_the_stub_answers_each_request_like_the_model_run_directly_and_a_bad_body_alone_gets_400(
    baked, monkeypatch
):
    assert baked.invoke("conf").returncode == 0
    model = load_stub(baked, monkeypatch)
    bodies = [json.dumps(body).encode() for body in baked.case.inputs]
    # any body the stub cannot read, for any reason, is refused alone (RecursionError, not UTF-8, ...)
    deep = b"[" * 100_000 + b"]" * 100_000
    bad = [b"not json", b'"a string"', json.dumps([1.0] * 99).encode(), deep, b"\xff\xfe[1]"]
    batch = [request(body) for body in bodies[:1] + bad + bodies[1:]]

    answers = model.execute(batch, len(batch))

    assert len(answers) == len(batch)
    good = [answers[0], *answers[1 + len(bad) :]]
    for answer, expected in zip(good, baked.case.expected, strict=True):
        assert not isinstance(answer, tuple), answer
        assert_close(json.loads(answer) if isinstance(answer, str) else answer, expected)
    for answer in answers[1 : 1 + len(bad)]:
        body, status, headers = answer
        assert status == 400 and "error" in json.loads(body), answer


@each_framework
def test_the_project_passes_its_own_invoke_test_on_the_host_and_fails_on_a_wrong_answer(baked):
    assert baked.invoke("conf").returncode == 0
    result = baked.invoke("test")
    assert result.returncode == 0, result.stdout + result.stderr

    expected = baked.project / "samples" / f"{baked.framework}-0.expected.json"
    right = expected.read_text()
    expected.write_text(json.dumps(wrong_answer(json.loads(right))))
    try:
        result = baked.invoke("test")
    finally:
        expected.write_text(right)
    assert result.returncode != 0
    assert f"{baked.framework}-0" in result.stdout + result.stderr


@each_vision_framework
def test_the_stub_answers_png_and_jpeg_digits_with_the_class_the_model_gives_them_and_most_are_right(
    baked, monkeypatch
):
    assert baked.invoke("conf").returncode == 0
    model = load_stub(baked, monkeypatch)
    files = baked.case.images
    batch = [request(image, "application/octet-stream") for _, image, _, _ in files]  # by magic bytes
    batch.insert(2, request(b"\x89PNG\r\n\x1a\n broken", "image/png"))

    answers = model.execute(batch, len(batch))

    body, status, _ = answers.pop(2)
    assert status == 400 and "cannot be decoded" in json.loads(body)["error"]
    assert answers == [f"{digit}\n" for _, _, digit, _ in files]  # the model's own answer, UAI's text
    right = sum(digit == truth for _, _, digit, truth in files)
    assert right >= 5 and baked.case.accuracy >= 0.85, (right, baked.case.accuracy)


@pytest.mark.parametrize(
    ("layout", "answers"),
    [
        ("yaml", {"model_arch_type": "yaml"}),
        ("h5", {"all_one_file": "yes"}),
        ("keras", {}),
    ],
    ids=["yaml-architecture", "all-one-file-h5", "keras-file"],
)
def test_the_keras_stub_loads_every_uai_layout_and_a_keras_file(tmp_path, monkeypatch, layout, answers):
    baked = BakedModel("keras", bake(tmp_path, "keras", **answers), Case([], []))
    case = make_keras(baked.model_dir, "mnist_model", layout)
    assert baked.invoke("conf").returncode == 0

    model = load_stub(baked, monkeypatch)

    assert_close(
        model.execute([request(json.dumps(body).encode()) for body in case.inputs], len(case.inputs)),
        case.expected,
    )


def wrong_answer(answer):
    """The answer with every number moved well outside the tolerance."""
    if isinstance(answer, list):
        return [wrong_answer(item) for item in answer]
    return answer * 2 + 1


@pytest.mark.docker
@pytest.mark.slow
@each_framework
def test_the_image_answers_the_samples_like_the_model_run_directly_in_a_container(
    baked, base_image, removes_its_image
):
    assert baked.invoke("conf").returncode == 0
    build = baked.invoke("build")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    smoke = baked.invoke("smoke-test")
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-3000:]
    for index in range(len(baked.case.inputs)):
        assert f"{baked.framework}-{index}" in smoke.stdout  # every sample was sent and compared
    for file_name, *_ in baked.case.images:  # PNG and JPEG digits, answered with their class
        assert file_name.split(".")[0] in smoke.stdout
