"""uai.frameworks: the one table of model files per conf section."""

import importlib
import sys
from pathlib import Path

import pytest
from uai import frameworks

ROOT = Path("/srv/code")


@pytest.mark.parametrize(
    ("framework", "section", "expected"),
    [
        (
            "keras",
            {
                "model_dir": "./checkpoint_dir",
                "model_name": "m",
                "all_one_file": False,
                "model_arch_type": "json",
            },
            {"model_arch_file": "checkpoint_dir/m.json", "model_weight_file": "checkpoint_dir/m.h5"},
        ),
        (
            "keras",
            {"model_dir": "./checkpoint_dir", "model_name": "m", "model_arch_type": "yaml"},
            {"model_arch_file": "checkpoint_dir/m.yaml", "model_weight_file": "checkpoint_dir/m.h5"},
        ),
        (
            "keras",
            {"model_dir": "ckpt", "model_name": "m", "all_one_file": True},
            {"model_file": "ckpt/m.h5"},
        ),
        (
            "caffe",
            {"model_dir": "ckpt", "model_name": "net"},
            {"model_arch_file": "ckpt/net.prototxt", "model_weight_file": "ckpt/net.caffemodel"},
        ),
        ("tensorflow", {"model_dir": "./export/1"}, {"saved_model_file": "export/1/saved_model.pb"}),
        (
            "mxnet",
            {"model_dir": "ckpt", "model_name": "r50", "num_epoch": 7},
            {"model_symbol_file": "ckpt/r50-symbol.json", "model_params_file": "ckpt/r50-0007.params"},
        ),
        ("xgboost", {"model_name": "xgb"}, {"model_file": "checkpoint_dir/xgb.json"}),
        ("pytorch", {"model_dir": "ckpt", "model_name": "net"}, {"model_file": "ckpt/net.pt"}),
        ("onnx", {"model_dir": "ckpt", "model_name": "net"}, {"model_file": "ckpt/net.onnx"}),
        ("sklearn", {"model_dir": "ckpt", "model_name": "clf"}, {"model_file": "ckpt/clf.joblib"}),
        ("self", {"anything": 1}, {}),
        ("my_service", {"model_dir": "x", "model_name": "y"}, {}),
    ],
)
def test_each_section_names_its_model_files_relative_to_the_code_root(framework, section, expected):
    files = frameworks.model_files(framework, section, ROOT)
    assert files == {key: ROOT / path for key, path in expected.items()}


def test_keras_accepts_a_single_dot_keras_file_when_it_exists(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "m.keras").write_text("x")
    files = frameworks.model_files("keras", {"model_dir": "ckpt", "model_name": "m"}, tmp_path)
    assert files == {"model_file": tmp_path / "ckpt" / "m.keras"}
    assert (
        frameworks.missing_files_message("keras", {"model_dir": "ckpt", "model_name": "m"}, tmp_path) is None
    )


def test_xgboost_picks_the_ubj_file_or_a_full_file_name_that_exists(tmp_path):
    (tmp_path / "checkpoint_dir").mkdir()
    (tmp_path / "checkpoint_dir" / "xgb.ubj").write_text("x")
    (tmp_path / "checkpoint_dir" / "old.model").write_text("x")
    assert frameworks.model_files("xgboost", {"model_name": "xgb"}, tmp_path)["model_file"].name == "xgb.ubj"
    assert (
        frameworks.model_files("xgboost", {"model_name": "old.model"}, tmp_path)["model_file"].name
        == "old.model"
    )


def test_missing_files_are_listed_with_a_one_line_message_naming_the_section(tmp_path):
    (tmp_path / "checkpoint_dir").mkdir()
    (tmp_path / "checkpoint_dir" / "m.json").write_text("{}")
    section = {"model_dir": "./checkpoint_dir", "model_name": "m", "model_arch_type": "json"}
    assert frameworks.missing_model_files("keras", section, tmp_path) == [
        tmp_path / "checkpoint_dir" / "m.h5"
    ]
    message = frameworks.missing_files_message("keras", section, tmp_path)
    assert message.startswith("http_server.keras names checkpoint_dir/m.h5")
    assert str(tmp_path) in message and "\n" not in message


def test_framework_section_is_the_first_key_besides_exec_or_self():
    http_server = {"exec": {"main_class": "A", "main_file": "a"}, "caffe": {"model_name": "n"}}
    assert frameworks.framework_section(http_server) == ("caffe", {"model_name": "n"})
    assert frameworks.framework_section({"exec": {}}) == ("self", {})


def test_the_code_root_is_uai_code_dir_when_set_else_the_server_root(monkeypatch, tmp_path):
    monkeypatch.setenv("UAI_CODE_DIR", str(tmp_path))
    assert frameworks.default_code_root() == tmp_path.resolve()
    monkeypatch.delenv("UAI_CODE_DIR")
    assert (frameworks.default_code_root() / "uai" / "frameworks.py").is_file()


def test_the_registry_imports_nothing_but_the_standard_library_and_the_yes_no_parser():
    source = Path(frameworks.__file__).read_text()
    modules = {
        line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))
    }
    assert modules <= set(sys.stdlib_module_names) | {"__future__", "uai"}  # uai.values: the yes/no parser


def test_every_template_framework_has_a_base_class_that_names_its_section_and_pinned_packages():
    for name in frameworks.TEMPLATE_FRAMEWORKS:
        entry = frameworks.get(name)
        module, _, cls = entry.base_class.rpartition(".")
        assert importlib.import_module(module).__dict__[cls].framework == name
        assert all("==" in package for package in entry.packages), name
        assert entry.takes_images == bool(entry.key("image_answer")), name


def test_a_missing_key_means_the_registrys_default():
    assert frameworks.get("keras").default("pixel_std") == 255
    assert frameworks.get("caffe").default("pixel_std") == 1  # Caffe's raw 0..255 pixels
    assert frameworks.get("pytorch").default("input_shape") == [1, 28, 28]
    assert frameworks.get("keras").default("no_such_key") is None
