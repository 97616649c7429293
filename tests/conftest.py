"""Shared fixtures: the template's paths, baking, and the Docker engine gate.

Docker tests need a real engine. Outside CI a missing engine skips them with the reason;
in CI (CI=true) it fails them, because CI must prove the Docker paths every time.
"""

from __future__ import annotations

import os

import pytest
from bakery import TEMPLATE  # noqa: F401  (puts the template on sys.path)


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
