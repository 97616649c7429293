"""Helpers of the deployment tests: settings, deploy/ rendered, kustomize (a name no other tests use)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REGISTRY = "registry.example:5000"  # a name that resolves nowhere: the manifest tests push nothing


def project_settings(project: Path, **uai):
    """The project's settings as its tasks read them (invoke.yaml), with `uai` keys overridden."""
    from invoke import Config
    from uaipack.settings import Settings

    config = Config(project_location=str(project))
    config.load_project()
    section = dict(config.get("uai"))
    for key, value in uai.items():
        if isinstance(value, dict):
            section[key] = {**section.get(key, {}), **value}
        else:
            section[key] = value
    return Settings.from_config(section)


def render(project: Path, **uai):
    """Write deploy/ for these settings; returns (deployment, outcomes)."""
    from uaipack import manifests
    from uaipack.deployment import deployment
    from uaipack.settings import Project

    chosen = deployment(project_settings(project, **uai), Project.at(project))
    return chosen, manifests.write_manifests(chosen, project / "deploy")


def kustomize(folder: Path) -> list[dict]:
    """`kubectl kustomize <folder>` as a list of objects (kubectl must be there; CI fails without it)."""
    import yaml

    if shutil.which("kubectl") is None:
        message = "kubectl is not installed (it renders the kustomize overlays)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    result = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in objects:
        found.setdefault(item["kind"], []).append(item)
    return found


def invoke_build(project: Path, image_name: str) -> None:
    """`invoke build` in `project` with uai.image_name set; fails the test with the build's output."""
    import sys

    env = {**os.environ, "INVOKE_UAI_IMAGE_NAME": image_name}
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "build"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@contextlib.contextmanager
def published(client, image: str, prefix: str, **options):
    """The image running on a free 127.0.0.1 port: (container, url); removed afterwards."""
    import secrets

    container = client.containers.run(
        image,
        name=f"{prefix}-{secrets.token_hex(4)}",
        detach=True,
        ports={"8080/tcp": ("127.0.0.1", None)},
        **options,
    )
    try:
        container.reload()
        yield container, f"http://127.0.0.1:{container.ports['8080/tcp'][0]['HostPort']}"
    finally:
        container.remove(force=True)
