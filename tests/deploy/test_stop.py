"""The image under `docker stop` and the OOM killer, in real containers on 127.0.0.1.

`docker stop` waits 10 s (its default) after SIGTERM, then kills: the server's drain
(server.graceful_timeout_s, 8 s) and the master's exit fit inside it, so requests in flight
and queued when it runs are answered, and the container exits 0 by itself. A worker killed by
the kernel for memory is said so in one line, and a new worker answers.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import threading
import time

import pytest
import requests
from bakery import bake

from deploy.support import REGISTRY, invoke_build, published

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.xdist_group("stop-image")]

#: Each batch takes half a second and holds one request: the queue is seconds of work.
SLOW_EXECUTE = """    def execute(self, data, batch_size):
        import time

        if data[0].body == b"hog":  # far more memory than the container may have
            hog = b"x" * (2 << 30)
            return [str(len(hog))]
        time.sleep(0.5)
        return [self.predict_one(request) for request in data[:batch_size]]

"""
KNOBS = {"UAI_MAX_BATCH_SIZE": "1", "UAI_MAX_LATENCY_MS": "0"}


@pytest.fixture(scope="module")
def slow_image(tmp_path_factory, base_image, docker_client):
    """The default project with a half-second execute, built with `invoke build`; removed after."""
    folder = tmp_path_factory.mktemp("stop-image")
    project = bake(folder, registry=REGISTRY, namespace="stoptest", base_image=base_image)
    module = project / "code" / "mnist_inference.py"
    text = module.read_text()
    start, end = text.index("    def execute("), text.index("    @staticmethod")
    module.write_text(text[:start] + SLOW_EXECUTE + text[end:])
    name = f"slow-stop:{secrets.token_hex(4)}"
    invoke_build(project, name)
    reference = f"{REGISTRY}/stoptest/{name}"
    yield reference
    with contextlib.suppress(Exception):
        docker_client.images.remove(reference, force=True)
    shutil.rmtree(project, ignore_errors=True)


@contextlib.contextmanager
def running(client, image: str, **options):
    """The image on a free 127.0.0.1 port, ready; removed afterwards."""
    from uaipack.smoke import wait_ready

    with published(client, image, "uaipack-stop", environment=KNOBS, **options) as (container, url):
        wait_ready(container, url, 60)
        yield container, url


def send_all(url: str, count: int) -> tuple[list, list[threading.Thread]]:
    """`count` requests at once, each on its own connection; answers[i] is a status or an error."""
    answers: list = [None] * count

    def client(index: int) -> None:
        try:
            answers[index] = requests.post(f"{url}/service", data=b"[0.1, 0.9]", timeout=30).status_code
        except requests.RequestException as error:
            answers[index] = error

    threads = [threading.Thread(target=client, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    return answers, threads


def wait_queued(url: str, depth: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = requests.get(f"{url}/metrics", timeout=5).text
        if float(re.search(r"^uai_queue_depth (\S+)$", text, re.M).group(1)) >= depth:
            return
        time.sleep(0.05)
    raise AssertionError(f"the queue never held {depth} requests")


def stop_with_docker_defaults(container, url: str, count: int) -> tuple[list, float, str]:
    """`count` requests sent, `docker stop` (its default timeout) once they are all in; the
    answers, how long the stop took and the container's log."""
    answers, threads = send_all(url, count)
    wait_queued(url, count - 2)
    started = time.monotonic()
    container.stop()  # no timeout given: Docker's default, 10 s
    took = time.monotonic() - started
    for thread in threads:
        thread.join(30)
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0  # exited by itself: not 137 (killed)
    return answers, took, container.logs().decode(errors="replace")


#: The start of a line of the server's own log: its time (when the line was made, even if a
#: buffered handler wrote it later) and pid.
STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[\d+\] "


def in_flight_at_stop(log: str, count: int) -> int:
    """How many of the `count` requests the stop found in flight, checked against the log: those
    answered before the stop began plus those in flight at it are all `count` of them. Times,
    not line order: access lines go out through a buffer, up to 50 ms after they are made."""
    stop = re.search(
        STAMP
        + r"\[INFO\] httpserver.workers: stopping: (\d+) requests in flight \(\d+ queued for the model\)",
        log,
        re.M,
    )
    assert stop, log
    stopped_at, in_flight = stop.group(1), int(stop.group(2))
    answered = re.findall(STAMP + r"access: POST /service \d{3} ", log, re.M)
    before = sum(stamp < stopped_at for stamp in answered)
    at_or_before = sum(stamp <= stopped_at for stamp in answered)  # the same millisecond: either
    assert before + in_flight <= count <= at_or_before + in_flight, log
    return in_flight


def test_the_image_stops_on_sigterm_within_docker_stops_default_and_says_how_long(docker_client, slow_image):
    config = docker_client.images.get(slow_image).attrs["Config"]
    assert config["StopSignal"] == "SIGTERM"
    assert config["Labels"]["ai.uaipack.stop-timeout"] == "10"  # graceful_timeout_s 8 + the master's 2


def test_docker_stop_answers_every_request_in_flight_and_queued_and_exits_zero(docker_client, slow_image):
    with running(docker_client, slow_image) as (container, url):
        answers, took, log = stop_with_docker_defaults(container, url, 10)  # 5 s of work
    assert answers == [200] * 10
    assert took < 10
    in_flight = in_flight_at_stop(log, 10)  # one may have been answered before the stop
    assert in_flight >= 8
    assert re.search(rf"stopped in [\d.]+ s: all {in_flight} requests in flight answered", log), log
    assert len(re.findall(r"access: POST /service 200 ", log)) == 10


def test_docker_stop_with_more_queued_than_the_drain_answers_the_rest_503_and_exits_zero(
    docker_client, slow_image
):
    with running(docker_client, slow_image) as (container, url):
        answers, took, log = stop_with_docker_defaults(container, url, 24)  # 12 s of work
    assert set(answers) == {200, 503}, (answers, log)  # never a closed connection
    assert took < 10
    in_flight = in_flight_at_stop(log, 24)
    assert re.search(rf"stopped in [\d.]+ s: all {in_flight} requests in flight answered", log), log


def test_a_worker_the_kernel_kills_for_memory_is_said_so_and_a_new_worker_answers(docker_client, slow_image):
    limits = {"mem_limit": "300m", "memswap_limit": "300m"}
    with running(docker_client, slow_image, **limits) as (container, url):
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{url}/service", data=b"hog", timeout=60)
        answer = None
        deadline = time.monotonic() + 60
        while getattr(answer, "status_code", None) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(requests.RequestException):
                answer = requests.post(f"{url}/service", data=b"[0.1, 0.9]", timeout=10)
        log = container.logs().decode(errors="replace")
    assert answer is not None and (answer.status_code, answer.text) == (200, "1"), log
    line = re.search(r"^.*worker \d+ died: .*$", log, re.M).group(0)
    assert "killed (SIGKILL), likely by the kernel's OOM killer (out of memory)" in line
    assert "while running a batch of 1 request" in line and "3 bytes" in line
