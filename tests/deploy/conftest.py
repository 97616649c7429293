"""Fixtures of the deployment tests: a baked project, its settings, and deploy/ rendered from them.

The manifest tests need no engine (kubectl kustomize renders offline); the image and Swarm
tests (test_image.py, test_swarm.py) share one xdist group, "swarm", so that they run on
one worker, one after the other, and never beside another run's swarm.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bakery import bake

from deploy.support import REGISTRY


@pytest.fixture(scope="session")
def deploy_baked(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("deploy-bake"), registry=REGISTRY, namespace="deploytest")


@pytest.fixture
def project_dir(deploy_baked, tmp_path) -> Path:
    """A fresh copy of the baked project, to write deploy/ into."""
    copy = tmp_path / deploy_baked.name
    shutil.copytree(deploy_baked, copy)
    return copy
