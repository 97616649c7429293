"""Baking helpers shared by the template's tests (a plain module: conftest names collide)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "{{cookiecutter.project_slug}}"
COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"
DEFAULTS = json.loads((ROOT / "cookiecutter.json").read_text())
FRAMEWORKS = DEFAULTS["framework"]

if str(TEMPLATE) not in sys.path:
    sys.path.insert(0, str(TEMPLATE))


def bake_cli(output_dir: Path, **answers: str) -> subprocess.CompletedProcess:
    """Run the real cookiecutter command line with --no-input and these answers."""
    extra = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        [str(COOKIECUTTER), str(ROOT), "--no-input", "-o", str(output_dir), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake a project (in-process, fast) and return its folder."""
    from cookiecutter.main import cookiecutter

    return Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output_dir), extra_context=answers))
