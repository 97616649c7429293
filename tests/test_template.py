"""Render tests: every supported answer combination bakes a complete, fully rendered project."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from bakery import FRAMEWORKS, ROOT, bake, bake_cli

COMBINATIONS = [
    *({"framework": framework} for framework in FRAMEWORKS),
    {"framework": "keras", "all_one_file": "yes"},
    {"framework": "keras", "model_arch_type": "yaml"},
    {"framework": "self", "main_file": "models.digits", "main_class": "DigitModel"},
    {"framework": "self", "model_dir": "models/v1", "project_name": "Fraud Scorer"},
    {"framework": "sklearn", "project_name": "Churn_Model 2"},
]


def text_files(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file():
            try:
                yield path, path.read_text()
            except UnicodeDecodeError:
                continue


@pytest.mark.parametrize("answers", COMBINATIONS, ids=lambda a: "-".join(a.values()))
def test_every_supported_combination_bakes_a_fully_rendered_project(tmp_path, answers):
    project = bake(tmp_path, **answers)

    leftovers = [
        str(path)
        for path, text in text_files(project)
        if "{{ cookiecutter" in text or "{{cookiecutter" in text
    ]
    assert leftovers == []
    main_file = answers.get("main_file", "mnist_inference")
    stub = project / "code" / (main_file.replace(".", "/") + ".py")
    assert stub.is_file()
    assert f"class {answers.get('main_class', 'MnistModel')}(" in stub.read_text()
    assert (project / "code" / answers.get("model_dir", "checkpoint_dir")).is_dir()
    for expected in (
        "tasks.py",
        "invoke.yaml",
        "README.md",
        "requirements.txt",
        "requirements-tools.txt",
        "server",
        "uaipack",
        "samples",
        "tests",
    ):
        assert (project / expected).exists(), expected
    assert not (project / "code" / "_stubs").exists()
    assert not (project / "_frameworks").exists()


@pytest.mark.parametrize("answers", COMBINATIONS, ids=lambda a: "-".join(a.values()))
def test_baked_python_files_compile(tmp_path, answers):
    project = bake(tmp_path, **answers)
    sources = [str(path) for path in project.rglob("*.py")]
    result = subprocess.run(["python3", "-m", "py_compile", *sources], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dotted_main_file_becomes_an_importable_package(tmp_path):
    project = bake(tmp_path, main_file="models.digits")
    assert (project / "code" / "models" / "__init__.py").is_file()
    assert (project / "code" / "models" / "digits.py").is_file()


def test_defaults_bake_the_uai_example_project_from_the_command_line(tmp_path):
    result = bake_cli(tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "mnist-inference"
    assert (project / "code" / "mnist_inference.py").is_file()
    assert "invoke conf" in result.stdout
    settings = (project / "invoke.yaml").read_text()
    for value in (
        "python:3.11-slim",
        "uhub.ucloud.cn",
        "uhub.service.ucloud.cn",
        "uai_demo",
        "mnist-inference:test",
    ):
        assert value in settings


def test_no_answer_ever_asks_for_a_password():
    text = (ROOT / "cookiecutter.json").read_text().lower()
    assert "password" not in text and "secret" not in text
