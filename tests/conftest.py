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
    from uaipack import UserError, engine

    try:
        return engine.client()
    except UserError as error:
        message = f"{error} (`make engine` does that)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " — CI must run the Docker tests", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    """The local Debian Python base image, built once (reused when it exists)."""
    from uaipack.baseimage import ensure_base_image

    return ensure_base_image()
