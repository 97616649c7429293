"""The local infrastructure, for real: the Debian base image and an authenticated registry."""

from __future__ import annotations

import io
import tarfile

import docker
import pytest
from uaipack import UserError
from uaipack.baseimage import DEFAULT_TAG, debian_mirror
from uaipack.registry import LocalRegistry

pytestmark = pytest.mark.docker


@pytest.fixture
def tiny_image(docker_client):
    """tiny_image(reference): import a one-file image (no base needed); removed at teardown."""
    made: list[str] = []

    def make(reference: str) -> None:
        import_tiny_image(docker_client, reference)
        made.append(reference)

    yield make
    for reference in made:
        docker_client.images.remove(reference, force=True)


def import_tiny_image(client, reference: str) -> None:
    """Import a one-file image (no base needed) under `reference`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"uaipack"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repository, _, tag = reference.rpartition(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag)


def push_chunks(client, reference: str, password: str) -> list[dict]:
    """Every progress chunk of a push of `reference` as user "pusher"."""
    auth = {"username": "pusher", "password": password}
    return list(client.api.push(reference, stream=True, decode=True, auth_config=auth))


def test_the_base_image_runs_python3_from_debian(docker_client, base_image):
    assert base_image == DEFAULT_TAG
    output = docker_client.containers.run(
        base_image,
        ["python3", "-c", "import sys, venv, ssl; print(sys.version_info[:2], sys.prefix)"],
        remove=True,
        network_disabled=True,
    )
    assert output.decode().strip() == "(3, 11) /usr"


def test_the_base_image_is_reused_when_it_exists(docker_client, base_image):
    from uaipack.baseimage import ensure_base_image

    before = docker_client.images.get(base_image).id
    said = []
    assert ensure_base_image(say=said.append) == base_image
    assert docker_client.images.get(base_image).id == before
    assert "reused" in said[0]


def test_the_debian_mirror_comes_from_the_hosts_apt_sources_or_the_environment(monkeypatch):
    assert debian_mirror().startswith(("http://", "https://", "file:/"))
    monkeypatch.setenv("UAIPACK_DEBIAN_MIRROR", "http://mirror.example/debian")
    assert debian_mirror() == "http://mirror.example/debian"


@pytest.fixture(scope="module")
def registry():
    with LocalRegistry("pusher", "correct horse battery") as started:
        yield started


def test_a_push_with_the_wrong_password_fails_and_nothing_lands(docker_client, registry, tiny_image):
    reference = f"{registry.address}/infra/wrong:v1"
    tiny_image(reference)
    with pytest.raises(docker.errors.APIError):
        docker_client.login("pusher", "not the password", registry=registry.address, reauth=True)
    chunks = push_chunks(docker_client, reference, "not the password")
    assert any("error" in chunk for chunk in chunks)
    assert not registry.has_manifest("infra/wrong", "v1")


def test_a_push_with_the_right_password_lands_in_the_registry(docker_client, registry, tiny_image):
    reference = f"{registry.address}/infra/right:v1"
    tiny_image(reference)
    chunks = push_chunks(docker_client, reference, "correct horse battery")
    assert not [chunk for chunk in chunks if "error" in chunk]
    digest = next(chunk["aux"]["Digest"] for chunk in chunks if "Digest" in chunk.get("aux", {}))
    assert registry.has_manifest("infra/right", "v1")
    assert registry.has_manifest("infra/right", digest)


def test_the_registry_refuses_anonymous_access(registry):
    import requests

    assert requests.get(f"http://{registry.address}/v2/_catalog", timeout=5).status_code == 401


def test_the_registry_stops_by_its_own_pid_and_removes_its_data():
    started = LocalRegistry("someone", "pw").start()
    process, root = started.process, started.root
    assert process.poll() is None and root.is_dir()
    started.stop()
    assert process.poll() is not None
    assert not root.exists()


def test_a_user_name_htpasswd_cannot_store_is_refused_in_one_line():
    with pytest.raises(UserError, match="htpasswd refused the user name"):
        LocalRegistry("bad:name", "pw").start()
