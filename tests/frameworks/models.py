"""Small real models, one maker per framework, and their own answers.

A maker writes the files the framework's stub expects into the model folder and returns
a `Case`: request bodies (JSON values) and the answers the same model gives when run
directly here with its framework, which the service must reproduce. The vision frameworks
(keras, caffe, tensorflow, pytorch, onnx) get real digit classifiers trained or built here
on scikit-learn's handwritten digits (upscaled to 28x28), each with the input layout its
format is known for, and real PNG and JPEG digits with the class the model itself gives
them. Frameworks are imported inside the makers, so collecting the tests imports none.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

FEATURES = 4
CLASSES = 3
#: Example inputs (one per request), fixed so the answers are reproducible.
INPUTS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [0.0, -1.0, 0.5, 2.0]]


@dataclasses.dataclass(frozen=True)
class Case:
    inputs: list  # one JSON request body per example
    expected: list  # the model's own answer per example, as JSON values
    images: tuple = ()  # (file name, image bytes, the class the model gives it, the true digit)
    accuracy: float | None = None  # the model's own, on the held-out digits


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten 8x8 digits, upscaled to 28x28 grey uint8 images (MNIST's size)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    data = load_digits()
    images = [
        np.asarray(
            Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((28, 28), Image.Resampling.BILINEAR)
        )
        for image in data.images
    ]
    return np.stack(images), data.target


TRAIN = slice(0, 1500)
HELD_OUT = slice(1500, None)
#: Held-out digits served as files: three PNG, three JPEG (UAI's `curl -T 2.jpeg`).
SERVED = (1500, 1511, 1523, 1534, 1546, 1557)


def encoded(image: np.ndarray, kind: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, kind, **({"quality": 90} if kind == "JPEG" else {}))
    return out.getvalue()


def decoded(body: bytes, decoder: str) -> np.ndarray:
    """The grey pixels of an image file, decoded here by the library the stub uses."""
    if decoder == "opencv":
        import cv2

        return cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_GRAYSCALE)
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(body)).convert("L"))


def digit_case(predict, to_input, decoder: str = "pillow") -> Case:
    """The case of a digit classifier: `predict(batch of model inputs) -> scores`, `to_input(grey
    28x28 pixels) -> one model input`. JSON bodies are model inputs; image files are held-out
    digits as PNG and JPEG, each with the class the model gives its own decoding of the file."""
    images, labels = digits()
    held_out = np.stack([to_input(image) for image in images[HELD_OUT]])
    accuracy = float(np.mean(np.argmax(predict(held_out), axis=1) == labels[HELD_OUT]))
    files = []
    for number, index in enumerate(SERVED):
        kind, suffix = ("PNG", "png") if number < 3 else ("JPEG", "jpg")
        body = encoded(images[index], kind)
        scores = predict(np.stack([to_input(decoded(body, decoder))]))[0]
        files.append((f"digit-{number}.{suffix}", body, int(np.argmax(scores)), int(labels[index])))
    inputs = [to_input(images[index]) for index in SERVED[:2]]
    return Case(
        [item.tolist() for item in inputs],
        np.asarray(predict(np.stack(inputs))).tolist(),
        tuple(files),
        accuracy,
    )


@functools.cache
def softmax_regression() -> tuple[np.ndarray, np.ndarray]:
    """(784 x 10 weight, bias) of a softmax regression fitted to the digits' pixels / 255."""
    from sklearn.linear_model import LogisticRegression

    images, labels = digits()
    fitted = LogisticRegression(max_iter=300).fit(images[TRAIN].reshape(-1, 784) / 255.0, labels[TRAIN])
    return fitted.coef_.T.astype(np.float32), fitted.intercept_.astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def make_sklearn(folder: Path, name: str) -> Case:
    """A scaler + ridge regression pipeline fitted on scikit-learn's bundled diabetes data; `.joblib`."""
    import joblib
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(features, target)
    joblib.dump(model, folder / f"{name}.joblib")
    inputs = features[:3].tolist()
    return Case(inputs, model.predict(np.asarray(inputs)).tolist())


def make_onnx(folder: Path, name: str) -> Case:
    """A softmax regression on the digits as an ONNX graph (Flatten, Gemm, Softmax) taking
    [batch, 1, 28, 28] (NCHW, the batch dimension symbolic); `.onnx`."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    weight, bias = softmax_regression()
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "w", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["y"]),
        ],
        "digits",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return digit_case(
        lambda batch: session.run(None, {"x": batch})[0],
        lambda image: (image[None] / 255.0).astype(np.float32),
    )


def make_xgboost(folder: Path, name: str) -> Case:
    """A 3-class softprob Booster trained for a few rounds on random data; saved as `.json`."""
    import xgboost

    generator = np.random.default_rng(3)
    features = generator.normal(size=(120, FEATURES))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int) + (features[:, 2] > 1).astype(int)
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": CLASSES, "max_depth": 3},
        xgboost.DMatrix(features, label=labels),
        num_boost_round=5,
    )
    booster.save_model(folder / f"{name}.json")
    return Case(INPUTS, booster.predict(xgboost.DMatrix(np.asarray(INPUTS, dtype=np.float32))).tolist())


def make_pytorch(folder: Path, name: str) -> Case:
    """A small MLP trained here on the digits, taking [N, 1, 28, 28]; TorchScript `.pt` (the conf's
    input_shape, [1, 28, 28], tells the stub what a TorchScript file does not)."""
    import torch

    torch.manual_seed(0)
    images, labels = digits()
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 10),
        torch.nn.Softmax(dim=1),
    )
    features = torch.from_numpy((images[TRAIN, None] / 255.0).astype(np.float32))
    targets = torch.from_numpy(labels[TRAIN])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        optimizer.zero_grad()
        torch.nn.functional.nll_loss(torch.log(model(features) + 1e-9), targets).backward()
        optimizer.step()
    model.eval()
    torch.jit.script(model).save(str(folder / f"{name}.pt"))

    def predict(batch):
        with torch.no_grad():
            return model(torch.from_numpy(batch)).numpy()

    return digit_case(predict, lambda image: (image[None] / 255.0).astype(np.float32))


@functools.cache
def keras_digits():
    """UAI's Keras MNIST model: 784 pixels / 255 in, softmax over 10 digits out; trained here."""
    keras = import_keras()
    keras.utils.set_random_seed(0)
    images, labels = digits()
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(images[TRAIN].reshape(-1, 784) / 255.0, labels[TRAIN], epochs=20, batch_size=64, verbose=0)
    return model


def make_keras(folder: Path, name: str, layout: str = "json") -> Case:
    """UAI's Keras MNIST model in one of the stub's layouts; by default UAI's: architecture `.json`
    plus Keras-2-style `.h5` weights. Others: "yaml" (architecture `.yaml`), "h5" (one whole-model
    `.h5`, UAI's all_one_file) and "keras" (Keras 3's own `.keras` file)."""
    import h5py
    import yaml
    from keras.src.legacy.saving import legacy_h5_format

    model = keras_digits()
    if layout in ("json", "yaml"):
        architecture = model.to_json()
        if layout == "yaml":
            architecture = yaml.safe_dump(json.loads(architecture))
        (folder / f"{name}.{layout}").write_text(architecture)
        # Keras 3 writes `.weights.h5` in its own layout; UAI projects hold Keras 2 `.h5` weights.
        with h5py.File(folder / f"{name}.h5", "w") as weights_file:
            legacy_h5_format.save_weights_to_hdf5_group(weights_file, model)
    else:
        model.save(folder / f"{name}.{layout}")
    return digit_case(
        lambda batch: model.predict(batch, verbose=0),
        lambda image: (image.reshape(784) / 255.0).astype(np.float32),
    )


def import_keras():
    """Keras on the JAX backend, the backend the keras stub and image use."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    assert keras.backend.backend() == "jax", "keras was imported before KERAS_BACKEND=jax was set"
    return keras


def make_tensorflow(folder: Path, name: str) -> Case:
    """A softmax regression on the digits as a tf.Module taking [None, 28, 28, 1] (NHWC), saved
    as a SavedModel with a serving_default signature."""
    import tensorflow as tf

    weight, bias = softmax_regression()

    class Digits(tf.Module):
        def __init__(self):
            super().__init__()
            self.weight, self.bias = tf.Variable(weight), tf.Variable(bias)

        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="x")])
        def serve(self, x):
            return {
                "probabilities": tf.nn.softmax(tf.matmul(tf.reshape(x, [-1, 784]), self.weight) + self.bias)
            }

    module = Digits()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return digit_case(
        lambda batch: module.serve(tf.constant(batch))["probabilities"].numpy(),
        lambda image: (image[..., None] / 255.0).astype(np.float32),
    )


def make_caffe(folder: Path, name: str) -> Case:
    """UAI's Caffe MNIST input (a 1x1x28x28 blob of raw 0..255 pixels): a softmax regression as an
    InnerProduct + Softmax net, written as `.prototxt` + `.caffemodel` with protobuf (no Caffe) and
    run here by OpenCV's Caffe importer, as the stub runs it."""
    import cv2
    from google.protobuf import text_format

    from frameworks.caffe_proto import message_classes

    NetParameter = message_classes()["NetParameter"]
    weight, bias = softmax_regression()  # fitted on pixels / 255: raw pixels need weight / 255
    net = NetParameter(name="digits")
    data = net.layer.add(name="data", type="Input", top=["data"])
    data.input_param.shape.add(dim=[1, 1, 28, 28])
    dense = net.layer.add(name="ip", type="InnerProduct", bottom=["data"], top=["ip"])
    dense.inner_product_param.num_output = 10
    net.layer.add(name="prob", type="Softmax", bottom=["ip"], top=["prob"])
    (folder / f"{name}.prototxt").write_text(text_format.MessageToString(net))
    # Caffe stores InnerProduct weights as (outputs, inputs).
    dense.blobs.add(data=(weight / 255.0).T.ravel().tolist()).shape.dim.extend([10, 784])
    dense.blobs.add(data=bias.tolist()).shape.dim.extend([10])
    (folder / f"{name}.caffemodel").write_bytes(net.SerializeToString())
    direct = cv2.dnn.readNetFromCaffe(str(folder / f"{name}.prototxt"), str(folder / f"{name}.caffemodel"))

    def predict(batch):
        direct.setInput(batch)
        return direct.forward()

    return digit_case(predict, lambda image: image[None].astype(np.float32), decoder="opencv")


#: Smallest first: the order to prove them in, and the order the tests run in.
MAKERS: dict[str, Callable[[Path, str], Case]] = {
    "sklearn": make_sklearn,
    "onnx": make_onnx,
    "xgboost": make_xgboost,
    "pytorch": make_pytorch,
    "keras": make_keras,
    "caffe": make_caffe,
    "tensorflow": make_tensorflow,
}
