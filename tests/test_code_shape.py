"""The shape every Python file of the repository keeps: a module docstring, and no function of
40 lines or more (the standard of issue 14). Files that are Jinja templates until baked are
checked when they parse, and skipped only when they do not."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
from bakery import ROOT

LONGEST_FUNCTION = 39  # lines from `def` to the last line of the body


def tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--", "*.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / name for name in listed.split("\0") if name]


def parsed(path: Path) -> ast.Module | None:
    """The file's syntax tree; None for a template that is not Python until cookiecutter renders it."""
    source = path.read_text(encoding="utf-8")
    try:
        return ast.parse(source, filename=str(path))
    except SyntaxError:
        if "{{" in source or "{%" in source:
            return None
        raise


def function_lengths(tree: ast.Module) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of every function and method, nested ones included."""
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def test_git_lists_the_python_files_of_every_area():
    names = {path.relative_to(ROOT).parts[0] for path in tracked_python_files()}
    assert {"tests", "bench", "devtools", "hooks", "{{cookiecutter.project_slug}}", "tasks.py"} <= names


def test_a_long_function_is_measured_from_def_to_its_last_line():
    tree = ast.parse("def f():\n" + "    x = 1\n" * 45 + "\n\ndef g():\n    return 1\n")
    assert function_lengths(tree) == [("f", 1, 46), ("g", 49, 2)]


@pytest.mark.parametrize("path", tracked_python_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_python_file_has_a_docstring_and_no_function_of_40_lines(path):
    tree = parsed(path)
    if tree is None:
        pytest.skip("a Jinja template until baked")
    if tree.body:
        assert ast.get_docstring(tree), "a module docstring saying what the module is for"
    too_long = [entry for entry in function_lengths(tree) if entry[2] > LONGEST_FUNCTION]
    assert too_long == [], f"split these (name, line, lines): {too_long}"
