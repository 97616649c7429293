"""Model loading: the UAI classes run unchanged, and every failure is one clear line."""

import io
import json
import logging
from pathlib import Path

import pytest
from httpserver.config import ServerSettings
from httpserver.loading import FAILED, READY, LoadError, ModelHost, create_instance
from httpserver.runtime import Runtime

from server.batch_support import EventLoop
from server.support import write_project

# Written exactly as UAI users write them (see UAI-REFERENCE.md), minus the keras import:
# load_model reads the architecture file with json instead.
UAI_KERAS_MODULE = """
import json
from uai.arch.keras_model import KerasAiUcloudModel


class MnistModel(KerasAiUcloudModel):
    def __init__(self, conf):
        super(MnistModel, self).__init__(conf)

    def load_model(self):
        with open(self.model_arch_file) as arch:
            model = json.load(arch)
        self.output["weights_path"] = self.model_weight_file
        return model

    def execute(self, data, batch_size):
        ret = []
        for i in range(batch_size):
            image = data[i].read()
            ret.append(str(len(image)) + ":" + self.model["label"])
        return ret
"""

KERAS_CONF = {
    "http_server": {
        "exec": {"main_class": "MnistModel", "main_file": "mnist_inference"},
        "keras": {
            "model_dir": "./checkpoint_dir",
            "model_name": "mnist_model",
            "all_one_file": False,
            "model_arch_type": "json",
        },
    }
}
KERAS_FILES = {
    "checkpoint_dir/mnist_model.json": json.dumps({"label": "seven"}),
    "checkpoint_dir/mnist_model.h5": "weights",
}


@pytest.fixture
def keras_project(tmp_path, monkeypatch):
    conf_file = write_project(tmp_path, UAI_KERAS_MODULE, KERAS_CONF, KERAS_FILES)
    monkeypatch.setenv("UAI_CODE_DIR", str(tmp_path / "code"))
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    yield conf_file
    import sys

    sys.modules.pop("mnist_inference", None)


def test_a_uai_keras_class_loads_with_its_attributes_and_answers_a_batch(keras_project):
    host = ModelHost(keras_project, keras_project.parent / "code")
    assert host.load() and host.status == READY
    model = host.instance
    code = keras_project.parent / "code"
    assert model.model_dir == str(code / "checkpoint_dir")
    assert model.model_name == "mnist_model"
    assert model.model_arch_file == str(code / "checkpoint_dir" / "mnist_model.json")
    assert model.model_weight_file == str(code / "checkpoint_dir" / "mnist_model.h5")
    assert model.model == {"label": "seven"}  # the value load_model returned
    assert model.output == {"weights_path": model.model_weight_file}
    assert model.conf == KERAS_CONF
    runtime = Runtime(ServerSettings(), host).start()
    try:
        from httpserver.inputs import RequestInput

        with EventLoop() as events:
            assert events.infer(runtime.batcher, RequestInput(b"12345"), timeout=5) == ("5:seven", 1)
    finally:
        runtime.stop(timeout=5)


def test_a_load_model_that_sets_self_model_itself_keeps_it():
    from uai.arch.base_model import AiUcloudModel

    class Model(AiUcloudModel):
        def load_model(self):
            self.model = "set by hand"  # returns None, as many UAI classes do

    assert Model({"http_server": {"exec": {}}}).model == "set by hand"


# UAI's import paths, each with the base class UAI code subclasses from it.
UAI_BASE_CLASSES = {
    "base_model": "AiUcloudModel",
    "keras_model": "KerasAiUcloudModel",
    "caffe_model": "CaffeAiUcloudModel",
    "tf_model": "TFAiUcloudModel",
    "mxnet_model": "MXNetAiUcloudModel",
    "xgboost_model": "XGBoostUcloudModel",
    "pytorch_model": "PyTorchModel",
    "onnx_model": "OnnxModel",
    "sklearn_model": "SklearnModel",
    "self_model": "SelfDefinedModel",
}


def test_every_uai_import_path_and_modern_base_exists():
    import importlib

    from uai.arch.base_model import AiUcloudModel

    classes = [
        getattr(importlib.import_module(f"uai.arch.{module}"), name)
        for module, name in UAI_BASE_CLASSES.items()
    ]
    assert all(issubclass(cls, AiUcloudModel) for cls in classes)


def test_importing_every_uai_base_class_imports_no_framework():
    import subprocess
    import sys

    from uai.arch import base_model

    # In a fresh interpreter: this one may hold frameworks that other tests imported.
    imports = ", ".join(f"uai.arch.{module}" for module in UAI_BASE_CLASSES)
    probe = f"import sys, {imports}; print(' '.join(sorted(sys.modules)))"
    server_root = Path(base_model.__file__).resolve().parents[2]
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=server_root, capture_output=True, text=True, check=True
    ).stdout.split()
    frameworks = {"keras", "tensorflow", "torch", "caffe", "mxnet", "xgboost", "onnxruntime", "sklearn"}
    assert not frameworks & set(loaded)
    assert "uai.arch.keras_model" in loaded


def test_a_self_defined_service_gets_its_own_section_keys_as_attributes(tmp_path):
    from uai.arch.self_model import SelfDefinedModel

    class Service(SelfDefinedModel):
        def execute(self, data, batch_size):
            return [self.greeting] * batch_size

    service = Service({"http_server": {"exec": {}, "my_service": {"greeting": "hi"}}})
    assert service.greeting == "hi" and service.execute([io.BytesIO()], 1) == ["hi"]


@pytest.mark.parametrize(
    ("conf_exec", "module", "fragment"),
    [
        (
            {"main_class": "MnistModel", "main_file": "mnist_inferenc"},
            UAI_KERAS_MODULE,
            "http_server.exec.main_file 'mnist_inferenc': no module named mnist_inferenc under ",
        ),
        (
            {"main_class": "MnistModl", "main_file": "mnist_inference"},
            UAI_KERAS_MODULE,
            "http_server.exec.main_class 'MnistModl': no such class in ",
        ),
        (
            {"main_class": "MnistModel", "main_file": "mnist_inference"},
            "import keras_is_not_installed\n",
            "http_server.exec.main_file 'mnist_inference': importing it failed: ModuleNotFoundError: "
            "No module named 'keras_is_not_installed'",
        ),
        (
            {"main_class": "MnistModel", "main_file": "mnist_inference"},
            "def broken(:\n",
            "http_server.exec.main_file 'mnist_inference': importing it failed: SyntaxError",
        ),
        (
            {"main_file": "mnist_inference"},
            UAI_KERAS_MODULE,
            "http_server.exec.main_class: missing from the conf",
        ),
    ],
)
def test_a_failed_load_is_one_line_naming_the_conf_key_and_the_cause(
    tmp_path, monkeypatch, conf_exec, module, fragment
):
    conf = {"http_server": {"exec": conf_exec, "keras": KERAS_CONF["http_server"]["keras"]}}
    write_project(tmp_path, module, {"http_server": {"exec": {"main_file": "mnist_inference"}}}, KERAS_FILES)
    monkeypatch.setenv("UAI_CODE_DIR", str(tmp_path / "code"))
    import sys

    sys.modules.pop("mnist_inference", None)
    try:
        with pytest.raises(LoadError) as raised:
            create_instance(conf, tmp_path / "code")
    finally:
        sys.modules.pop("mnist_inference", None)
    assert str(raised.value).startswith(fragment)
    assert "\n" not in str(raised.value)


def test_missing_model_files_fail_the_load_naming_the_section_and_file(tmp_path, monkeypatch, caplog):
    conf_file = write_project(
        tmp_path, UAI_KERAS_MODULE, KERAS_CONF, {"checkpoint_dir/mnist_model.json": "{}"}
    )
    monkeypatch.setenv("UAI_CODE_DIR", str(tmp_path / "code"))
    host = ModelHost(conf_file, tmp_path / "code")
    try:
        with caplog.at_level(logging.ERROR, logger="httpserver.loading"):
            assert not host.load()
    finally:
        import sys

        sys.modules.pop("mnist_inference", None)
    assert host.status == FAILED
    assert "http_server.keras names checkpoint_dir/mnist_model.h5" in host.failure
    first_line = caplog.records[0].getMessage()
    assert first_line == f"model load failed: {host.failure}" and "\n" not in first_line
    assert caplog.records[0].exc_info is not None  # the traceback follows the line
