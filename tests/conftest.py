"""Shared fixtures: the template's paths, baking, and the Docker engine gate.

Docker tests need a real engine. Outside CI a missing engine skips them with the reason;
in CI (CI=true) it fails them, because CI must prove the Docker paths every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
        capture_output=True, text=True, timeout=120,
    )


def bake(output_dir: Path, **answers: str) -> Path:
    """Bake a project (in-process, fast) and return its folder."""
    from cookiecutter.main import cookiecutter

    return Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output_dir), extra_context=answers))


@pytest.fixture(scope="session")
def docker_client():
    """A client of a Docker engine that answers (skip outside CI, fail in CI, when none does)."""
    import docker

    try:
        engine = docker.from_env(timeout=300)
        engine.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine means "none"
        message = f"no Docker engine answers ({exc.__class__.__name__}); run `make engine`"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " — CI must run the Docker tests", pytrace=False)
        pytest.skip(message)
    return engine


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    """The local Debian Python base image, built once (reused when it exists)."""
    from uaipack.baseimage import ensure_base_image

    return ensure_base_image()
