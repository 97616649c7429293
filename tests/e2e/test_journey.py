"""The user's whole journey against a real engine and a real registry: bake, conf, build,
smoke-test, push with real credentials, pull back by digest, run, answer. Plus secrets."""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid

import requests
from uaipack.smoke import running_container, wait_ready

from e2e.support import PASSWORD, USERNAME

SUCCESS = re.compile(r"^upload docker images successful\. images:(\S+)$", re.M)
DIGEST = re.compile(r"digest (sha256:[0-9a-f]{64})")


def test_push_builds_smoke_tests_and_ends_with_uais_success_line(pushed, baked, reference_of):
    output = pushed.stdout
    assert "steps cached" in output and "smoke test passed" in output
    assert output.strip().splitlines()[-1] == f"upload docker images successful. images:{reference_of(baked)}"
    assert DIGEST.search(output)


def test_the_registry_holds_the_digest_the_push_reported(pushed, baked, registry, reference_of):
    digest = DIGEST.search(pushed.stdout).group(1)
    repository = reference_of(baked).split("/", 1)[1].rsplit(":", 1)[0]
    assert registry.has_manifest(repository, digest)


def test_the_image_carries_oci_labels_runs_as_non_root_and_has_a_healthcheck(
    pushed, baked, docker_client, reference_of
):
    config = docker_client.images.get(reference_of(baked)).attrs["Config"]
    labels = config["Labels"]
    assert {
        "org.opencontainers.image.created",
        "org.opencontainers.image.title",
        "org.opencontainers.image.source",
        "ai.uaipack.conf.digest",
    } <= set(labels)
    assert labels["ai.uaipack.framework"] == "self"
    assert (
        config["User"] == "10001:0" and "8080/tcp" in config["ExposedPorts"]
    )  # numeric: runAsNonRoot checks it
    assert "python3" in " ".join(config["Healthcheck"]["Test"]) and "/readyz" in " ".join(
        config["Healthcheck"]["Test"]
    )


def test_the_image_pulled_back_by_digest_runs_and_answers(pushed, baked, docker_client, reference_of):
    reference = reference_of(baked)
    digest = DIGEST.search(pushed.stdout).group(1)
    docker_client.images.remove(reference, force=True, noprune=True)
    repository = reference.rsplit(":", 1)[0]
    docker_client.login(USERNAME, PASSWORD, registry=reference.split("/", 1)[0])
    pulled = docker_client.images.pull(f"{repository}@{digest}")
    pulled.tag(reference)  # later tests use the tag again
    with running_container(docker_client, pulled.id, f"e2e-pulled-{uuid.uuid4().hex[:8]}") as (
        container,
        url,
    ):
        wait_ready(container, url, 60)
        answer = requests.post(f"{url}/service", data="[0.0, 0.1, 0.9]", timeout=10)
        assert (answer.status_code, answer.text) == (200, "2")


def test_the_password_is_in_no_layer_history_context_or_output(pushed, baked, docker_client, reference_of):
    image = docker_client.images.get(reference_of(baked))
    secret = PASSWORD.encode()
    archive = b"".join(image.save())
    with tarfile.open(fileobj=io.BytesIO(archive)) as outer:
        for member in outer.getmembers():
            data = outer.extractfile(member).read() if member.isfile() else b""
            assert secret not in data, member.name
            if member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    for entry in layer.getmembers():
                        if entry.isfile():
                            assert secret not in layer.extractfile(entry).read(), entry.name
    assert PASSWORD not in json.dumps(image.history())
    for path in (baked / ".uaipack").rglob("*"):
        assert not path.is_file() or secret not in path.read_bytes(), path
    for path in baked.glob("*"):
        assert not path.is_file() or secret not in path.read_bytes(), path
    assert PASSWORD not in pushed.stdout + pushed.stderr


def test_push_reads_the_password_from_stdin(pushed, baked, run_invoke):
    result = run_invoke(
        baked, "push", "--skip-checks", "--password-stdin", stdin=PASSWORD + "\n", UHUB_USERNAME=USERNAME
    )
    assert result.returncode == 0, result.stderr
    assert "skipping build and smoke-test (--skip-checks)" in result.stdout
    assert SUCCESS.search(result.stdout)
    assert "already there" in result.stdout


def test_push_uses_the_credentials_docker_stores_when_no_password_is_given(
    pushed, baked, run_invoke, registry, tmp_path
):
    import base64

    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.address: {"auth": token}}}))
    result = run_invoke(baked, "push", "--skip-checks", DOCKER_CONFIG=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "using the credentials Docker stores" in result.stdout and SUCCESS.search(result.stdout)


def test_in_host_pushes_to_the_internal_registry(pushed, baked, run_invoke, registry):
    result = run_invoke(
        baked,
        "push",
        "--skip-checks",
        "--in-host",
        UHUB_USERNAME=USERNAME,
        UHUB_PASSWORD=PASSWORD,
        INVOKE_UAI_INTERNAL_REGISTRY=registry.address,
    )
    assert result.returncode == 0, result.stderr
    assert SUCCESS.search(result.stdout).group(1).startswith(registry.address + "/e2e/")
