"""Session fixtures of the end-to-end tests: one bake, one local registry, one build and push.

Real engine, real authenticated registry on 127.0.0.1. The expensive things are made
once per session and removed at its end: the images (by reference), the registry (by
its own process), the bakes (tmp folders).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from bakery import bake

from e2e.support import PASSWORD, SMOKE_LABEL, USERNAME

INVOKE = Path(sys.executable).with_name("invoke")


@pytest.fixture(scope="session")
def registry(docker_client):
    from uaipack.registry import LocalRegistry

    with LocalRegistry(USERNAME, PASSWORD) as running:
        yield running


@pytest.fixture(scope="session")
def made_images(docker_client):
    """References the tests tag; all removed at the end of the session."""
    references: set[str] = set()
    yield references
    for reference in references:
        with contextlib.suppress(Exception):  # already gone is fine
            docker_client.images.remove(reference, force=True, noprune=True)


@pytest.fixture(scope="session")
def baked(tmp_path_factory, base_image, registry) -> Path:
    """The template baked with its defaults, pointed at the local base image and registry."""
    return bake(
        tmp_path_factory.mktemp("e2e-bake"),
        base_image=base_image,
        registry=registry.address,
        internal_registry=registry.address,
        namespace="e2e",
        image_name=f"mnist-inference:{uuid.uuid4().hex[:8]}",
    )


class Invoker:
    """Runs `invoke` in a project the way a user does, with only the environment given."""

    def command(self, *arguments: str) -> list[str]:
        return [str(INVOKE), *arguments]

    def environment(self, **env: str) -> dict[str, str]:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith(("UHUB_", "INVOKE_"))
        }
        return {**environment, "COLUMNS": "200", **env}

    def __call__(self, project: Path, *arguments: str, stdin: str = "", timeout: float = 600, **env: str):
        return subprocess.run(
            self.command(*arguments),
            cwd=project,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.environment(**env),
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def run_invoke() -> Invoker:
    return Invoker()


@pytest.fixture(scope="session")
def pushed(baked, run_invoke, made_images):
    """The main journey, once: `invoke push` (build, smoke-test, push) with real credentials."""
    result = run_invoke(baked, "push", UHUB_USERNAME=USERNAME, UHUB_PASSWORD=PASSWORD)
    made_images.add(image_reference(baked))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture
def project_copy(baked, tmp_path):
    """A copy of the baked project to change (its image reference is the same unless changed)."""
    copy = tmp_path / baked.name
    shutil.copytree(baked, copy, ignore=shutil.ignore_patterns(".uaipack", "__pycache__"))
    return copy


def image_reference(project: Path) -> str:
    """The reference the project's settings name, read the way its tasks read them."""
    from invoke import Config
    from uaipack.settings import Settings

    config = Config(project_location=str(project))
    config.load_project()
    return Settings.from_config(config.get("uai")).image_reference()


@pytest.fixture(scope="session")
def reference_of():
    """reference_of(project) is its image; reference_of(project, "other:v1") the same repo path, renamed."""

    def reference(project: Path, image_name: str | None = None) -> str:
        full = image_reference(project)
        return f"{full.rsplit('/', 1)[0]}/{image_name}" if image_name else full

    return reference


@pytest.fixture
def smoke_containers(docker_client, registry):
    """Lists this session's smoke-test containers that exist right now (there should be none
    after a test); any left by a failing test are removed at teardown, so they cannot fail the
    next one. Only images of this session's registry count: other runs may share the engine."""

    def listing() -> list:
        # Other checkouts' smoke tests share the label and may remove theirs while this lists.
        found = docker_client.containers.list(all=True, filters={"label": SMOKE_LABEL}, ignore_removed=True)
        return [c for c in found if c.attrs["Config"]["Image"].startswith(registry.address + "/")]

    yield listing
    for container in listing():
        container.remove(force=True)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.docker)
            item.add_marker(pytest.mark.slow)
