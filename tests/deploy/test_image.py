"""The image under an orchestrator's rules, in real containers: read-only root with nothing
mounted, no capabilities, no new privileges, any uid with group 0; healthy only when ready."""

from __future__ import annotations

import contextlib
import time

import pytest
import requests

from deploy.support import published

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.xdist_group("deploy-images")]

LOCKED_DOWN = {
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "user": "54321:0",  # an arbitrary uid, as OpenShift assigns one, with group 0
}


def running(client, image: str, **options):
    """The image on a free 127.0.0.1 port; removed afterwards."""
    return published(client, image, "uaipack-deploy", **options)


def shell(container, command: str) -> tuple[int, str]:
    code, output = container.exec_run(["sh", "-c", command])
    return code, output.decode().strip()


def test_the_image_serves_read_only_with_no_capability_no_new_privileges_and_any_uid(
    docker_client, built_images
):
    from uaipack.smoke import wait_ready

    with running(docker_client, built_images["v1"], **LOCKED_DOWN) as (container, url):
        wait_ready(container, url, 60)
        answer = requests.post(f"{url}/service", data=b"[0.1, 0.9]", timeout=10)
        assert (answer.status_code, answer.text) == (200, "1")
        assert shell(container, "id -u; id -g") == (0, "54321\n0")
        status = dict(line.split(":\t", 1) for line in shell(container, "cat /proc/1/status")[1].splitlines())
        assert status["NoNewPrivs"].strip() == "1" and status["CapEff"].strip() == "0" * 16
        assert shell(container, "touch /ai-ucloud-client-django/x")[0] != 0  # the root is read-only
        container.reload()
        assert container.attrs["Mounts"] == [] and not container.attrs["HostConfig"].get("Tmpfs")


def test_no_program_in_the_image_is_setuid_and_every_served_file_is_root_s_and_readable_by_group_0(
    docker_client, built_images
):
    with running(docker_client, built_images["v1"], **LOCKED_DOWN) as (container, _):
        # find exits 1 on the folders this uid may not list (/root): only what it prints counts.
        assert shell(container, "find / -xdev -type f -perm /6000 2>/dev/null")[1] == ""
        unreadable = "find /ai-ucloud-client-django /opt/uai ! -perm -g+r -o ! -user root | head"
        assert shell(container, unreadable) == (0, "")


def test_docker_calls_a_container_healthy_only_once_its_model_has_loaded(docker_client, built_images):
    from uaipack.deployment import PROBE_PERIOD_S
    from uaipack.settings import Settings

    health = docker_client.images.get(built_images["slow"]).attrs["Config"]["Healthcheck"]
    assert "/readyz" in " ".join(health["Test"])
    assert health["StartPeriod"] == Settings().startup_timeout_s * 1e9
    assert health["Interval"] == PROBE_PERIOD_S * 1e9
    seen = []
    with running(docker_client, built_images["slow"], **LOCKED_DOWN) as (container, url):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not seen or seen[-1][2] != "healthy"):
            container.reload()
            state = container.attrs["State"].get("Health", {}).get("Status")
            with contextlib.suppress(requests.RequestException):
                seen.append((status(f"{url}/healthz"), status(f"{url}/readyz"), state))
            time.sleep(0.2)
    assert (200, 503, "starting") in seen, seen  # alive, still loading: not healthy
    assert seen[-1] == (200, 200, "healthy"), seen
    first_healthy = next(index for index, sample in enumerate(seen) if sample[2] == "healthy")
    assert all(sample[1] == 200 for sample in seen[first_healthy:])


def status(url: str) -> int:
    return requests.get(url, timeout=2).status_code
