"""Fixtures for the unit tests of uaipack (imported from the template folder, no Docker)."""

from __future__ import annotations

import shutil

import pytest
from bakery import TEMPLATE

INFERENCE_SOURCE = """
from uai.arch.base_model import AiUcloudModel


class MnistModel(AiUcloudModel):
    def load_model(self):
        return None

    def execute(self, data, batch_size):
        return ["2"] * batch_size
"""


@pytest.fixture
def project(tmp_path):
    """A minimal project: code/ with the class, a model folder, the template's server and Dockerfile."""
    from uaipack.settings import Project

    root = tmp_path / "proj"
    (root / "code" / "checkpoint_dir").mkdir(parents=True)
    (root / "code" / "mnist_inference.py").write_text(INFERENCE_SOURCE)
    shutil.copytree(TEMPLATE / "server", root / "server", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "uaiservice.Dockerfile.j2").symlink_to(TEMPLATE / "uaiservice.Dockerfile.j2")
    (root / "requirements.txt").write_text("# none\n")
    return Project.at(root)


@pytest.fixture
def settings():
    from uaipack.settings import Settings

    return Settings.from_config({"registry": "127.0.0.1:5000", "namespace": "demo", "image_name": "mnist:v1"})


@pytest.fixture
def no_package_resolution(monkeypatch):
    """The build's package step with no engine and no index: a base image that has nothing, and
    nothing to install (the staging of everything else is what such a test checks)."""
    from uaipack import packages, wheels

    target = wheels.Target("3.11", "cp", ("cp311",), ("linux_x86_64",))
    resolved = packages.Resolved(wheels.BasePython(target), (), packages.ModelPackages((), ()))
    monkeypatch.setattr(packages, "resolve", lambda *args: resolved)
