"""conf.json: written from the settings, schema-validated, checked against code and model files."""

import dataclasses
import json

import pytest
from uaipack import UserError
from uaipack.conf import (
    conf_from_settings,
    ensure_conf,
    load_conf,
    top_level_names,
    validate_schema,
    write_conf,
)


def test_the_default_conf_has_exec_a_framework_section_and_the_server_knobs(settings):
    conf = conf_from_settings(settings)
    assert conf["http_server"]["exec"] == {"main_class": "MnistModel", "main_file": "mnist_inference"}
    assert conf["http_server"]["self"] == {"model_dir": "./checkpoint_dir"}
    assert conf["server"]["max_batch_size"] == 32
    validate_schema(conf)


def test_a_keras_conf_has_the_keys_uai_expects_and_uais_pixel_scaling_for_images(settings):
    keras = dataclasses.replace(settings, framework="keras", all_one_file=True)
    assert conf_from_settings(keras)["http_server"]["keras"] == {
        "model_dir": "./checkpoint_dir",
        "model_name": "mnist_model",
        "all_one_file": True,
        "model_arch_type": "json",
        "pixel_mean": 0,
        "pixel_std": 255,
        "image_answer": "class",
    }


def test_a_schema_error_names_the_key_and_the_rule():
    with pytest.raises(UserError, match=r"conf.json: http_server.exec: 'main_class' is a required property"):
        validate_schema({"http_server": {"exec": {"main_file": "m"}}})


def test_a_server_knob_out_of_range_is_refused():
    with pytest.raises(UserError, match=r"server.max_batch_size"):
        validate_schema(
            {"http_server": {"exec": {"main_file": "m", "main_class": "C"}}, "server": {"max_batch_size": 0}}
        )


def test_writing_the_conf_produces_a_file_that_loads_back(settings, project):
    write_conf(settings, project)
    assert load_conf(project) == json.loads(project.conf_path.read_text())


def test_a_main_file_naming_no_module_fails_before_any_build(settings, project):
    with pytest.raises(UserError, match=r"main_file 'nowhere' names no module.*nowhere.py does not exist"):
        write_conf(dataclasses.replace(settings, main_file="nowhere"), project)
    assert not project.conf_path.exists()


def test_a_main_class_the_module_lacks_is_named_with_what_it_defines(settings, project):
    with pytest.raises(
        UserError,
        match=r"'DigitModel' is not defined in .*mnist_inference.py "
        r"\(it defines: AiUcloudModel, MnistModel\)",
    ):
        write_conf(dataclasses.replace(settings, main_class="DigitModel"), project)


def test_a_dotted_main_file_resolves_to_a_package_module(settings, project):
    package = project.code_dir / "models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "digits.py").write_text("class DigitModel:\n    pass\n")
    write_conf(dataclasses.replace(settings, main_file="models.digits", main_class="DigitModel"), project)


def test_missing_keras_model_files_are_named(settings, project):
    keras = dataclasses.replace(settings, framework="keras")
    with pytest.raises(UserError, match=r"mnist_model.json.*mnist_model.h5.*put the model files there"):
        write_conf(keras, project)


def test_keras_model_files_present_pass_the_check(settings, project):
    for name in ("mnist_model.json", "mnist_model.h5"):
        (project.code_dir / "checkpoint_dir" / name).write_text("x")
    write_conf(dataclasses.replace(settings, framework="keras"), project)


def test_a_hand_edited_conf_is_kept_and_a_generated_one_follows_the_settings(settings, project):
    write_conf(settings, project)
    ensure_conf(dataclasses.replace(settings, server={**settings.server, "workers": 3}), project)
    assert json.loads(project.conf_path.read_text())["server"]["workers"] == 3
    edited = json.loads(project.conf_path.read_text())
    edited["server"]["workers"] = 2
    project.conf_path.write_text(json.dumps(edited))
    ensure_conf(settings, project)
    assert json.loads(project.conf_path.read_text())["server"]["workers"] == 2


def test_a_conf_that_is_not_json_says_so(project):
    project.conf_path.write_text("{not json")
    with pytest.raises(UserError, match="is not valid JSON"):
        load_conf(project)


def test_top_level_names_include_classes_assignments_and_imports():
    source = "import os\nfrom x import Y as Z\nclass A:\n    class Inner: pass\nB = A\n"
    assert top_level_names(source) == {"os", "Z", "A", "B"}
