"""Faults in the model, under the real UAI start command (gunicorn on 127.0.0.1): a hung
execute, timed-out requests in the queue, and an execute raising SystemExit, KeyboardInterrupt
or another BaseException. The probes (/readyz, /healthz, /initialized, /metrics) must agree."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from server.support import write_project

pytestmark = pytest.mark.slow

FAULTY_MODULE = """
import time
from pathlib import Path
from uai.arch.base_model import AiUcloudModel


class Custom(BaseException):
    pass


class Faulty(AiUcloudModel):
    def load_model(self):
        pass

    def execute(self, data, batch_size):
        body = data[0].body.decode()
        if body.startswith("hang:"):
            (Path(__file__).parent / "hanging").touch()  # the test waits for this
            time.sleep(float(body[5:]))
        if body == "wait":  # until the test creates the file `release`
            (Path(__file__).parent / "hanging").touch()
            while not (Path(__file__).parent / "release").exists():
                time.sleep(0.05)
        kinds = {"exit": SystemExit, "interrupt": KeyboardInterrupt, "base": Custom}
        if body in kinds:
            raise kinds[body]("from execute")
        return ["ok:" + item.body.decode() for item in data]
"""


def conf(**server):
    """The faulty model's conf with these server knobs."""
    return {
        "http_server": {"exec": {"main_class": "Faulty", "main_file": "faulty_model"}},
        "server": {"max_batch_size": 1, "max_latency_ms": 0, **server},
    }


def get(server, path):
    try:
        return requests.get(server.url + path, timeout=2)
    except requests.ConnectionError:
        return None


def post(server, body: str, timeout: float = 10):
    return requests.post(server.url + "/service", data=body.encode(), timeout=timeout)


def probes(server) -> tuple:
    """(readyz status code and status, healthz code, initialized text, uai_model_ready value)."""
    ready, health, initialized = get(server, "/readyz"), get(server, "/healthz"), get(server, "/initialized")
    gauge = re.search(r"^uai_model_ready\{[^}]*\} (\S+)$", get(server, "/metrics").text, re.M)
    return (
        (ready.status_code, ready.json()["status"]),
        health.status_code,
        initialized.text,
        float(gauge.group(1)),
    )


def started(gunicorn, tmp_path, **server):
    """A ready server of the faulty model with these knobs."""
    running = gunicorn(write_project(tmp_path, FAULTY_MODULE, conf(**server)))
    running.wait_until(
        lambda: (r := get(running, "/readyz")) is not None and r.status_code == 200, what="ready"
    )
    return running


def in_thread(function, *args) -> dict:
    """Run `function(*args)` in a thread; the returned dict gets its `answer` (or `error`)."""
    box: dict = {}

    def run():
        try:
            box["answer"] = function(*args)
        except Exception as error:
            box["error"] = error

    box["thread"] = threading.Thread(target=run)
    box["thread"].start()
    return box


def test_a_hung_execute_makes_every_probe_say_so_until_it_returns(tmp_path, gunicorn):
    server = started(gunicorn, tmp_path, execute_timeout_s=1, request_timeout_s=2)
    assert probes(server) == ((200, "ready"), 200, "YES", 1.0)
    hung = in_thread(post, server, "hang:4")
    server.wait_until(lambda: get(server, "/readyz").status_code == 503, timeout=5, what="not ready")
    assert probes(server) == ((503, "stalled"), 503, "NO", 0.0)
    health = get(server, "/healthz").json()
    assert health["error"] == "stalled" and "server.execute_timeout_s = 1" in health["message"]
    refused = post(server, "meanwhile")
    assert (refused.status_code, refused.json()["error"], refused.headers["Retry-After"]) == (
        503,
        "stalled",
        "5",
    )
    server.wait_until(lambda: get(server, "/readyz").status_code == 200, timeout=10, what="ready again")
    assert probes(server) == ((200, "ready"), 200, "YES", 1.0)
    assert post(server, "after").text == "ok:after"
    hung["thread"].join(10)
    assert hung["answer"].status_code == 504
    log = server.log()
    assert (
        len(
            re.findall(
                r"execute stalled: it has run for [\d.]+ s on a batch of 1 requests "
                r"\(6 bytes no content type from 127\.0\.0\.1:\d+\)",  # hang:4
                log,
            )
        )
        == 1
    )
    assert re.search(r"execute returned after 4\.\d s; this process is alive and ready again", log)


def test_requests_timing_out_in_the_queue_leave_room_for_the_next_ones(tmp_path, gunicorn):
    """Before: after queue_size requests had timed out behind a long execute, every request
    got 503 `Server is busy` for ever."""
    server = started(gunicorn, tmp_path, execute_timeout_s=30, request_timeout_s=0.5, queue_size=2)
    slow = in_thread(post, server, "hang:6")
    # the queue must be empty before the rounds: the long execute running, not queued
    server.wait_until(lambda: (tmp_path / "code" / "hanging").exists(), what="the long execute")
    statuses = []
    for _ in range(3):  # 3 rounds of queue_size requests, each answered 504 in its turn
        rounds = [in_thread(post, server, "queued") for _ in range(2)]
        for box in rounds:
            box["thread"].join(10)
            statuses.append(box["answer"].status_code)
    assert statuses == [504] * 6
    assert re.search(r"^uai_queue_depth 0\.0$", get(server, "/metrics").text, re.M)
    slow["thread"].join(10)
    assert slow["answer"].status_code == 504
    server.wait_until(
        lambda: post(server, "next").text == "ok:next", timeout=10, what="the execute to return"
    )
    assert probes(server) == ((200, "ready"), 200, "YES", 1.0)


def test_execute_raising_systemexit_keyboardinterrupt_or_baseexception_fails_only_its_request(
    tmp_path, gunicorn
):
    server = started(gunicorn, tmp_path)
    for body, kind in (("exit", "SystemExit"), ("interrupt", "KeyboardInterrupt"), ("base", "Custom")):
        answer = post(server, body)
        assert (answer.status_code, answer.json()["error"]) == (500, "execute_failed"), body
        assert probes(server) == ((200, "ready"), 200, "YES", 1.0)
        assert post(server, "fine").text == "ok:fine"
        server.wait_until(
            lambda kind=kind: (
                f"execute raised {kind} for a batch of 1 requests; answering them 500" in server.log()
            ),
            timeout=3,
            what=f"the {kind} line",
        )
    assert server.process.poll() is None


def test_sigterm_during_a_hung_execute_answers_503_and_the_worker_exits_before_the_master_kills_it(
    tmp_path, gunicorn
):
    """graceful_timeout_s 2: the drain answers the hung batch 503 at about 1.6 s; the worker's
    exit hook must not then wait for the loop again (it waited 1 s more: past the master's 2 s,
    so the master SIGKILLed the worker in its exit hook, silently, and the refusal summary the
    hook writes last was lost)."""
    server = gunicorn(write_project(tmp_path, FAULTY_MODULE, conf(graceful_timeout_s=2)))
    server.wait_until(
        lambda: (r := get(server, "/readyz")) is not None and r.status_code == 200, what="ready"
    )
    answers = []
    client = threading.Thread(target=lambda: answers.append(post(server, "hang:30", timeout=20)))
    client.start()
    time.sleep(0.5)  # the request is in execute (an answer would come only after 30 s)
    server.process.terminate()
    client.join(20)
    assert server.process.wait(timeout=20) == 0
    assert [answer.status_code for answer in answers] == [503]
    log = server.log()
    assert "killed by the master" not in log and "did not drain within" not in log
    # the master: a stop the batch outlived, not a death replaced by a new worker
    assert "died" not in log
    assert re.search(r"worker \d+ stopped on SIGTERM while running a batch of 1 request", log)
    assert len(re.findall("shutdown: the batching loop did not finish", log)) == 1
    assert "overload: refused 1 requests 503 (shutting_down)" in log  # the exit hook's last line


def test_a_request_still_arriving_past_the_grace_period_gets_503_and_one_line(tmp_path, gunicorn):
    """A slow upload (2 of 10 bytes sent) outlives graceful_timeout_s 2: uvicorn cancels its task.
    The client gets the drain's 503 `shutting_down` (it got a text/plain 500) and the log no
    traceback (it had uvicorn's "Exception in ASGI application" with a CancelledError one for
    each such request), only uvicorn's "Cancel 1 running task(s)" and the worker's line."""
    server = gunicorn(write_project(tmp_path, FAULTY_MODULE, conf(graceful_timeout_s=2)))
    server.wait_until(lambda: (r := get(server, "/readyz")) is not None and r.status_code == 200, what="up")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as upload:
        upload.sendall(b"POST /service HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        time.sleep(0.3)  # the body is on its way
        server.process.terminate()
        answer = b""
        while chunk := upload.recv(65536):  # until the server closes
            answer += chunk
        answer = answer.decode()
    assert server.process.wait(timeout=20) == 0
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 503 ") and json.loads(body)["error"] == "shutting_down"
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    assert "1 requests still running past the grace period, answered 503" in log


def test_a_worker_stalled_among_two_is_restarted_by_the_master_with_its_stack_written(tmp_path, gunicorn):
    """With two workers a probe reaches either one, so it cannot restart the stuck one: the
    stuck worker withholds its heartbeat and gunicorn's master (its timeout, 8 s here)
    aborts it; faulthandler writes where execute hung, and a new worker takes its place."""
    conf_file = write_project(tmp_path, FAULTY_MODULE, conf(execute_timeout_s=1, request_timeout_s=2))
    server = gunicorn(conf_file, UAI_WORKERS="2", GUNICORN_CMD_ARGS="--timeout 8")
    server.wait_until(lambda: len(re.findall(r"model ready: ", server.log())) == 2, what="two workers ready")
    hung = in_thread(post, server, "hang:60")
    withheld = server.wait_until(
        lambda: re.search(r"\[(\d+)\] \[ERROR\] httpserver.workers: heartbeat withheld", server.log()),
        timeout=20,
        what="the withheld heartbeat",
    )
    died = server.wait_until(
        lambda: re.search(rf"worker {withheld.group(1)} died: (.*)$", server.log(), re.M),
        timeout=20,
        what="the restart of the stuck worker",
    )
    assert died.group(1).startswith("killed by the master (SIGABRT: past gunicorn's timeout")
    assert "while running a batch of 1 request started" in died.group(1)
    hung["thread"].join(10)
    assert hung["answer"].status_code == 504  # at request_timeout_s, long before the restart
    log = server.log()
    assert (
        len(re.findall(r"heartbeat withheld \(stalled\): the master restarts this worker within 8 s", log))
        == 1
    )
    assert len(re.findall(r"died:", log)) == 1
    assert re.search(r'File ".*faulty_model\.py", line \d+ in execute', log), log  # faulthandler's stack
    server.wait_until(lambda: len(re.findall(r"model ready: ", server.log())) == 3, what="a new worker")
    for _ in range(10):  # both workers answer, whichever the kernel hands the connection to
        assert probes(server) == ((200, "ready"), 200, "YES", 1.0)
        assert post(server, "after").text == "ok:after"
    assert server.process.poll() is None


def last_heartbeat(server) -> float:
    """When the worker last beat: the mtime of its gunicorn heartbeat file (an unlinked file
    in /dev/shm that gunicorn stamps with `time.monotonic()`)."""
    (worker,) = server.worker_pids()
    for fd in Path(f"/proc/{worker}/fd").iterdir():
        with contextlib.suppress(OSError):
            if "wgunicorn-" in os.readlink(fd):
                return fd.stat().st_mtime
    raise AssertionError(f"no heartbeat file in worker {worker}")


def test_a_worker_whose_execute_returns_after_its_heartbeat_was_withheld_beats_again_at_once(
    tmp_path, gunicorn
):
    """uvicorn beats every half of gunicorn's timeout: a beat withheld once came back only one
    half later, at the master's deadline, so a worker that had recovered was killed or not by
    a race. The withheld beat is asked for again every second."""
    conf_file = write_project(tmp_path, FAULTY_MODULE, conf(execute_timeout_s=1, request_timeout_s=2))
    server = gunicorn(conf_file, GUNICORN_CMD_ARGS="--timeout 8")
    server.wait_until(lambda: "model ready: " in server.log(), what="ready")
    hung = in_thread(post, server, "wait")
    server.wait_until(lambda: "heartbeat withheld" in server.log(), timeout=20, what="the withheld heartbeat")
    (tmp_path / "code" / "release").touch()
    server.wait_until(lambda: "execute returned after" in server.log(), timeout=5, what="the return")
    returned = time.monotonic()
    server.wait_until(lambda: last_heartbeat(server) > returned, timeout=2.5, what="a beat at once")
    hung["thread"].join(10)
    log = server.log()
    assert "WORKER TIMEOUT" not in log and "died" not in log, log
    assert len(re.findall(r"model ready: ", log)) == 1
    assert probes(server) == ((200, "ready"), 200, "YES", 1.0)
    assert post(server, "after").text == "ok:after"
