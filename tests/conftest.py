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


def pytest_collection_modifyitems(config, items):
    """Keep tests that share an expensive per-process fixture on one xdist worker.

    `make test` runs pytest-xdist with `--dist loadgroup`: the end-to-end tests share one
    bake, registry and pushed image (group "e2e"), and each framework's tests share that
    framework's baked project and image (group "fw-<name>"). Ungrouped tests spread freely.
    """
    for item in items:
        path = str(item.fspath)
        params = getattr(item, "callspec", None)
        if "/tests/e2e/" in path:
            item.add_marker(pytest.mark.xdist_group("e2e"))
        elif params is not None and "baked" in params.params and "/tests/frameworks/" in path:
            item.add_marker(pytest.mark.xdist_group(f"fw-{params.params['baked']}"))
