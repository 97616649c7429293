"""The baked project's invoke command line: the tasks, their help, and one-line failures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bakery import bake

INVOKE = Path(sys.executable).with_name("invoke")
TASKS = [
    "base-image",
    "base-images",
    "build",
    "conf",
    "packdocker",
    "push",
    "serve",
    "smoke-test",
    "test",
    "upgrade",
]


@pytest.fixture(scope="module")
def baked(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("bake"), registry="127.0.0.1:5999")


def invoke(project: Path, *arguments: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(INVOKE), *arguments],
        cwd=project,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_every_task_of_the_issue_is_listed(baked):
    listed = invoke(baked, "--list").stdout
    assert [task for task in TASKS if f"  {task} " not in listed] == []


def flags_without_help(help_text: str) -> list[str]:
    """The option lines of `invoke --help TASK` that carry no help column (two spaces, then text)."""
    options = [line.strip() for line in help_text.splitlines() if line.startswith("  -")]
    return [line for line in options if len(re.split(r"\s{2,}", line, maxsplit=1)) < 2]


def test_a_flag_without_help_is_found():
    help_text = "Options:\n  -n, --network   let the build reach the index\n  -t STRING, --timeout=STRING\n"
    assert flags_without_help(help_text) == ["-t STRING, --timeout=STRING"]


@pytest.mark.parametrize("task", TASKS)
def test_every_flag_of_every_task_has_help(baked, task):
    help_text = invoke(baked, "--help", task).stdout
    assert "Options:" in help_text or "none" in help_text.lower(), help_text
    assert flags_without_help(help_text) == []


def test_a_password_flag_is_refused_in_one_line_without_a_traceback(baked):
    result = invoke(baked, "push", "--uhub-password", "hunter2", "--skip-checks")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: --uhub-password is refused: a password on the command line is visible to every user of this "
        "machine; set UHUB_PASSWORD, pipe it to --password-stdin, or run `docker login` once."
    ]
    assert "hunter2" not in result.stdout + result.stderr


def test_zero_push_attempts_is_refused_in_one_line_without_a_traceback(baked):
    result = invoke(baked, "push", "--skip-checks", INVOKE_UAI_PUSH_ATTEMPTS="0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: uai.push_attempts is 0; it must be at least 1 (tries per push)."
    ]


def test_conf_naming_a_missing_class_fails_in_one_line_and_writes_nothing(baked):
    result = invoke(baked, "conf", INVOKE_UAI_MAIN_CLASS="NoSuchModel")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "http_server.exec.main_class 'NoSuchModel' is not defined" in result.stderr
    assert not (baked / "conf.json").exists()


def test_the_projects_own_unit_tests_pass_as_baked(baked):
    result = invoke(baked, "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 2 tests" in result.stderr and "OK" in result.stderr
