"""Tiny real models, one maker per framework, and their own answers.

A maker writes the files the framework's stub expects into the model folder and returns
a `Case`: request bodies (JSON values) and the answers the same model gives when run
directly here with its framework, which the service must reproduce. Frameworks are
imported inside the makers, so collecting the tests imports none of them.
"""

from __future__ import annotations

import dataclasses
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


def weights(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A fixed FEATURES -> CLASSES layer (weight, bias) for frameworks that are built, not trained."""
    generator = np.random.default_rng(seed)
    return (
        generator.normal(size=(FEATURES, CLASSES)).astype(np.float32),
        generator.normal(size=CLASSES).astype(np.float32),
    )


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
    """A Gemm + Softmax graph built with onnx.helper (batch dimension symbolic); `.onnx`."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    weight, bias = weights()
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", CLASSES])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return Case(INPUTS, session.run(None, {"x": np.asarray(INPUTS, dtype=np.float32)})[0].tolist())


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
    """A seeded two-layer MLP with a softmax, scripted to TorchScript; `.pt`."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 8), torch.nn.ReLU(), torch.nn.Linear(8, CLASSES), torch.nn.Softmax(dim=1)
    ).eval()
    torch.jit.script(model).save(str(folder / f"{name}.pt"))
    with torch.no_grad():
        return Case(INPUTS, model(torch.tensor(INPUTS, dtype=torch.float32)).tolist())


def make_keras(folder: Path, name: str, layout: str = "json") -> Case:
    """A Keras 3 MLP in one of the stub's layouts; by default UAI's: architecture `.json` plus
    Keras-2-style `.h5` weights. Others: "yaml" (architecture `.yaml`), "h5" (one whole-model
    `.h5`, UAI's all_one_file) and "keras" (Keras 3's own `.keras` file)."""
    keras = import_keras()
    import h5py
    import yaml
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
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
    return Case(INPUTS, model.predict(np.asarray(INPUTS, dtype=np.float32), verbose=0).tolist())


def import_keras():
    """Keras on the JAX backend, the backend the keras stub and image use."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    assert keras.backend.backend() == "jax", "keras was imported before KERAS_BACKEND=jax was set"
    return keras


def make_tensorflow(folder: Path, name: str) -> Case:
    """A tf.Module (dense layer + softmax) saved as a SavedModel with a serving_default signature."""
    import tensorflow as tf

    weight, bias = weights()

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            self.weight, self.bias = tf.Variable(weight), tf.Variable(bias)

        @tf.function(input_signature=[tf.TensorSpec([None, FEATURES], tf.float32, name="x")])
        def serve(self, x):
            return {"probabilities": tf.nn.softmax(tf.matmul(x, self.weight) + self.bias)}

    module = Tiny()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    outputs = module.serve(tf.constant(INPUTS, dtype=tf.float32))["probabilities"]
    return Case(INPUTS, outputs.numpy().tolist())


def make_caffe(folder: Path, name: str) -> Case:
    """An InnerProduct + Softmax net written as `.prototxt` + `.caffemodel` with protobuf (no Caffe)."""
    from google.protobuf import text_format

    from frameworks.caffe_proto import message_classes

    NetParameter = message_classes()["NetParameter"]
    weight, bias = weights()
    net = NetParameter(name="tiny")
    data = net.layer.add(name="data", type="Input", top=["data"])
    data.input_param.shape.add(dim=[1, FEATURES])
    dense = net.layer.add(name="ip", type="InnerProduct", bottom=["data"], top=["ip"])
    dense.inner_product_param.num_output = CLASSES
    net.layer.add(name="prob", type="Softmax", bottom=["ip"], top=["prob"])
    (folder / f"{name}.prototxt").write_text(text_format.MessageToString(net))
    # Caffe stores InnerProduct weights as (outputs, inputs).
    dense.blobs.add(data=weight.T.ravel().tolist()).shape.dim.extend([CLASSES, FEATURES])
    dense.blobs.add(data=bias.tolist()).shape.dim.extend([CLASSES])
    (folder / f"{name}.caffemodel").write_bytes(net.SerializeToString())
    logits = np.asarray(INPUTS, dtype=np.float64) @ weight + bias
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return Case(INPUTS, (probabilities / probabilities.sum(axis=1, keepdims=True)).tolist())


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
