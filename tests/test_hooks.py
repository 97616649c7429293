"""The pre-generation hook: every bad answer is refused with one sentence and nothing written."""

from __future__ import annotations

import pytest
from bakery import bake_cli

REJECTIONS = [
    ("main_class", "1bad", "main_class '1bad' is not allowed: it must be a Python class name"),
    ("main_class", "class", "main_class 'class' is not allowed"),
    ("main_file", "mnist_inference.py", "main_file 'mnist_inference.py' is not allowed: it must be an"),
    ("main_file", "my-module", "main_file 'my-module' is not allowed"),
    ("namespace", "UAI_Demo", "namespace 'UAI_Demo' is not allowed: Docker allows lower-case"),
    ("namespace", "uai demo", "namespace 'uai demo' is not allowed"),
    ("image_name", "Mnist:test", "image_name 'Mnist:test' is not allowed: it must be name:tag"),
    ("image_name", "mnist-inference", "image_name 'mnist-inference' is not allowed"),
    ("image_name", "mnist:bad tag", "image_name 'mnist:bad tag' is not allowed"),
    ("project_slug", "My Project!", "project_slug 'My Project!' is not allowed: use lower-case letters"),
    ("model_dir", "../outside", "model_dir '../outside' is not allowed"),
    ("base_image", "Python:3.11", "base_image 'Python:3.11' is not allowed"),
    ("registry", "http://uhub.ucloud.cn", "registry 'http://uhub.ucloud.cn' is not allowed"),
]


@pytest.mark.parametrize(("key", "value", "message"), REJECTIONS, ids=lambda x: str(x)[:30])
def test_a_bad_answer_is_refused_with_one_sentence_and_nothing_written(tmp_path, key, value, message):
    result = bake_cli(tmp_path, **{key: value})

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ") and key in line]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert errors[0].endswith(".")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("key", "value"), [("framework", "mxnet"), ("all_one_file", "maybe"), ("model_arch_type", "xml")]
)
def test_a_choice_outside_its_choices_is_refused_by_cookiecutter_before_anything_is_written(
    tmp_path, key, value
):
    # cookiecutter itself checks choice answers, before our hook runs.
    result = bake_cli(tmp_path, **{key: value})

    assert result.returncode != 0
    assert f"{value} provided for choice variable {key}, but the choices are" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_injection_string_stays_a_string(tmp_path):
    marker = tmp_path / "pwned"
    attack = f'x"""); open("{marker}", "w"); ("""'
    result = bake_cli(tmp_path / "out", main_class=attack)

    assert result.returncode != 0
    assert "main_class" in result.stderr and "is not allowed" in result.stderr
    assert not marker.exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_an_injection_string_in_a_free_text_answer_bakes_as_plain_text(tmp_path):
    marker = tmp_path / "pwned"
    name = f'Evil\\"""); open("{marker}", "w") #'
    result = bake_cli(tmp_path / "out", project_name=name, project_slug="evil")

    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert name in (tmp_path / "out" / "evil" / "README.md").read_text()
