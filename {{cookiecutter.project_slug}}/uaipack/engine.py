"""The Docker engine: one place that connects to it and says clearly when there is none."""

from __future__ import annotations

import functools

import docker
from docker.errors import DockerException

from uaipack import UserError


@functools.lru_cache(maxsize=1)
def client() -> docker.DockerClient:
    """A docker SDK client for the engine named by DOCKER_HOST (or the local socket)."""
    try:
        engine = docker.from_env(timeout=300)
        engine.ping()
    except DockerException as exc:
        raise UserError(
            "no Docker engine answers (is dockerd running? on Debian as root: "
            "`apt-get install docker.io && dockerd &`, or run the template's scripts/bootstrap.sh): "
            f"{exc.__class__.__name__}"
        ) from None
    return engine


def find_image(reference: str) -> docker.models.images.Image | None:
    """The engine's image with this reference, or None."""
    try:
        return client().images.get(reference)
    except docker.errors.ImageNotFound:
        return None


def image_exists(reference: str) -> bool:
    """True when the engine has an image with this reference."""
    return find_image(reference) is not None
