"""Render tests: every supported answer combination bakes a complete, fully rendered project."""

from __future__ import annotations

import subprocess
import sys
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


RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.parametrize("answers", COMBINATIONS, ids=lambda a: "-".join(a.values()))
def test_baked_python_files_compile_and_pass_the_projects_own_ruff_check_and_format(tmp_path, answers):
    project = bake(tmp_path, **answers)
    sources = [str(path) for path in project.rglob("*.py")]
    result = subprocess.run(["python3", "-m", "py_compile", *sources], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (project / "ruff.toml").is_file()
    for command in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        lint = subprocess.run([str(RUFF), *command], cwd=project, capture_output=True, text=True)
        assert lint.returncode == 0, f"ruff {command[0]}: {lint.stdout}{lint.stderr}"


HOSTILE_NAMES = [
    'Evil """ import os',
    "Evil ''' x",
    "Back\\slash \\",
    "Two\nlines",
    '"""\nraise SystemExit(3)\n#',
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_project_name_holding_quotes_backslashes_or_newlines_stays_text_and_never_reaches_code(
    tmp_path, name
):
    project = bake(tmp_path, project_name=name, project_slug="hostile", framework="keras")

    assert name in (project / "README.md").read_text()
    for path in project.rglob("*.py"):
        assert name not in path.read_text(), path
    stub = project / "code" / "mnist_inference.py"
    compile(stub.read_text(), str(stub), "exec")  # still Python
    assert "class MnistModel(KerasAiUcloudModel):" in stub.read_text()


def test_stubs_are_plain_python_copied_without_rendering_and_named_by_the_validated_class_answer(tmp_path):
    project = bake(tmp_path, framework="pytorch", main_class="Digit_Net2")

    stub = (project / "code" / "mnist_inference.py").read_text()
    assert "class Digit_Net2(PyTorchModel):" in stub and "MnistModel" not in stub
    assert "def __init__" not in stub  # the base class's constructor is all a stub needs


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
