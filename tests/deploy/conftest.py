"""Fixtures of the deployment tests: a baked project, its settings, and deploy/ rendered from them.

The manifest tests need no engine (kubectl kustomize renders offline). The image tests share
one session's images (xdist group "deploy-images"); the Swarm scenarios are one test
(test_swarm.py), since the swarm is the engine's global state.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
from bakery import bake

from deploy.support import REGISTRY, invoke_build


@pytest.fixture(scope="session")
def deploy_baked(tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("deploy-bake"), registry=REGISTRY, namespace="deploytest")


@pytest.fixture
def project_dir(deploy_baked, tmp_path) -> Path:
    """A fresh copy of the baked project, to write deploy/ into."""
    copy = tmp_path / deploy_baked.name
    shutil.copytree(deploy_baked, copy)
    return copy


@pytest.fixture(scope="session")
def built_images(tmp_path_factory, base_image, docker_client):
    """The v1 and slow images (bench.swarm's variants) built with `invoke build`; removed at the end."""
    import secrets

    from bench.swarm import VARIANTS, replace_load_model

    project = bake(
        tmp_path_factory.mktemp("deploy-images"),
        registry=REGISTRY,
        namespace="deploytest",
        base_image=base_image,
    )
    run_id = secrets.token_hex(4)
    images = {}
    for variant in ("v1", "slow"):
        folder = project.with_name(variant)
        shutil.copytree(project, folder)
        if VARIANTS[variant]:
            replace_load_model(folder / "code" / "mnist_inference.py", VARIANTS[variant])
        images[variant] = f"{REGISTRY}/deploytest/mnist-inference:{run_id}-{variant}"
        invoke_build(folder, images[variant].rsplit("/", 1)[1])
    yield images
    for reference in images.values():
        with contextlib.suppress(Exception):
            docker_client.images.remove(reference, force=True)
