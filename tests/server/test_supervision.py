"""A worker that dies, and a model that cannot load, under real gunicorn on 127.0.0.1.

The master logs one line per dead worker naming its pid, how it died and the batch it was
running (from the worker's flight record, `httpserver.supervision`); a segfault leaves a
Python stack (faulthandler); a new worker answers afterwards. A failed load with several
workers exits 4 with one line.
"""

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from server.support import write_project

pytestmark = pytest.mark.slow

FRAGILE_MODULE = """
import ctypes
import os
import time


class Fragile:
    def __init__(self, conf):
        pass

    def execute(self, data, batch_size):
        body = data[0].body
        if body == b"segv":
            ctypes.string_at(0)
        if body == b"exit":
            os._exit(3)
        if body == b"sleep":
            time.sleep(30)
        return ["pid%d" % os.getpid() for item in data]
"""
FRAGILE_CONF = {
    "http_server": {"exec": {"main_class": "Fragile", "main_file": "fragile"}},
    "server": {"max_batch_size": 4, "max_latency_ms": 0},
}
FAILING_LOAD = """
import time


class Broken:
    def __init__(self, conf):
        time.sleep(1.0 - time.time() % 1.0)  # both workers fail in the same instant
        raise RuntimeError("weights.bin is missing")

    def execute(self, data, batch_size):
        return data
"""


def post(server, body: bytes, **headers):
    """The answer, or the exception a dead worker's closed connection gives."""
    try:
        return requests.post(server.url + "/service", data=body, headers=headers, timeout=10)
    except requests.RequestException as error:
        return error


def ready_worker_pid(server) -> int:
    """Wait until the server answers /service; the pid of the worker that did."""
    answer = server.wait_until(
        lambda: (r := post(server, b"hello")) is not None and getattr(r, "status_code", 0) == 200 and r,
        timeout=30,
        what="an answer from a worker",
    )
    return int(answer.text.strip().strip('"').removeprefix("pid"))


def death_line(server, pid: int) -> str:
    return server.wait_until(
        lambda: re.search(rf"^.*worker {pid} died: .*$", server.log(), re.M),
        timeout=10,
        what=f"the line about worker {pid}",
    ).group(0)


def test_a_segfault_in_execute_is_logged_with_its_batch_and_stack_and_a_new_worker_answers(
    tmp_path, gunicorn
):
    server = gunicorn(write_project(tmp_path, FRAGILE_MODULE, FRAGILE_CONF))
    pid = ready_worker_pid(server)
    answer = post(server, b"segv", **{"X-Request-Id": "crash-42"})
    assert isinstance(answer, requests.ConnectionError)
    line = death_line(server, pid)
    assert "killed by SIGSEGV (segmentation fault)" in line
    assert re.search(r"while running a batch of 1 request started [\d.]+ s before \(4 bytes", line)
    assert "from 127.0.0.1:" in line and "id=crash-42" in line
    log = server.log()
    assert "Fatal Python error: Segmentation fault" in log
    assert re.search(r'File ".*fragile.py", line \d+ in execute', log)
    assert "Perhaps out of memory" not in log  # gunicorn's own line is replaced by ours
    assert ready_worker_pid(server) != pid


def test_a_model_calling_os_exit_is_logged_with_its_exit_code_and_batch(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, FRAGILE_MODULE, FRAGILE_CONF))
    pid = ready_worker_pid(server)
    assert isinstance(post(server, b"exit"), requests.ConnectionError)
    line = death_line(server, pid)
    assert "exited with code 3, while running a batch of 1 request" in line
    assert len(re.findall(rf"\b{pid}\b.*(died|exited)", server.log())) == 1  # one line, ours
    assert ready_worker_pid(server) != pid


def test_a_worker_sigkilled_during_execute_is_reported_as_likely_out_of_memory(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, FRAGILE_MODULE, FRAGILE_CONF))
    pid = ready_worker_pid(server)
    answers = []
    thread = threading.Thread(target=lambda: answers.append(post(server, b"sleep")))
    thread.start()
    flight = f"/dev/shm/uai-flight-{server.process.pid}-{pid}"
    server.wait_until(lambda: Path(flight).read_bytes()[:1] not in (b"", b"\0"), what="the batch")
    os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer sends
    thread.join(15)
    line = death_line(server, pid)
    assert "killed (SIGKILL), likely by the kernel's OOM killer (out of memory)" in line
    assert "while running a batch of 1 request" in line and "5 bytes" in line
    assert isinstance(answers[0], requests.ConnectionError)
    assert not os.path.exists(flight)  # read and removed by the master
    assert ready_worker_pid(server) != pid


def test_a_worker_that_dies_between_batches_says_no_batch_was_running(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, FRAGILE_MODULE, FRAGILE_CONF))
    pid = ready_worker_pid(server)
    os.kill(pid, signal.SIGKILL)
    assert death_line(server, pid).endswith(
        "likely by the kernel's OOM killer (out of memory), while no batch was running; "
        "a new worker replaces it"
    )


def test_a_failed_load_with_two_workers_exits_4_with_one_line(tmp_path, gunicorn):
    conf = {
        "http_server": {"exec": {"main_class": "Broken", "main_file": "broken"}},
        "server": {"workers": 2},
    }
    server = gunicorn(write_project(tmp_path, FAILING_LOAD, conf))
    started = time.monotonic()
    code = server.process.wait(timeout=30)
    log = server.log()
    assert code == 4, log
    assert time.monotonic() - started < 15  # no wait of graceful_timeout_s for a zombie
    lines = [line for line in log.splitlines() if "model load failed" in line]
    assert len(lines) == 1, log
    assert lines[0].endswith("creating it failed: RuntimeError: weights.bin is missing")
    assert log.count("Traceback") == 1  # the model's, after the line; none from gunicorn
    assert "HaltServer" not in log and "exited with code" not in log
    assert not list(Path("/dev/shm").glob(f"uai-*-{server.process.pid}*"))


def test_the_flight_record_holds_the_running_batch_only_and_the_master_reads_it_once(tmp_path, monkeypatch):
    from httpserver import supervision
    from httpserver.inputs import RequestInput

    monkeypatch.setattr(supervision, "directory", lambda: tmp_path)
    record = supervision.FlightRecord(supervision.flight_path(1, 2))
    meta = {"REMOTE_ADDR": "10.0.0.7", "REMOTE_PORT": "5123", "HTTP_X_REQUEST_ID": "r-1"}
    batch = [RequestInput(b"[1, 2]", "application/json", meta)] + [RequestInput(b"x")] * 5
    record.started(batch)
    assert supervision.batch_text(supervision.read_flight(1, 2)).startswith(
        "while running a batch of 6 requests"
    )
    assert supervision.read_flight(1, 2) is None  # read once: the file is gone
    record = supervision.FlightRecord(supervision.flight_path(1, 3))
    record.started(batch)
    text = supervision.batch_text(supervision.read_flight(1, 3))
    assert "(6 bytes application/json from 10.0.0.7:5123 id=r-1; 1 bytes no content type;" in text
    assert text.endswith(", and 2 more)")
    record = supervision.FlightRecord(supervision.flight_path(1, 4))
    record.started(batch)
    record.ended()
    assert supervision.read_flight(1, 4) is None


def test_a_death_is_said_by_signal_name_exit_code_or_the_masters_own_kill():
    from httpserver.supervision import how_it_died

    assert (
        how_it_died(-signal.SIGKILL) == "killed (SIGKILL), likely by the kernel's OOM killer (out of memory)"
    )
    assert how_it_died(-signal.SIGKILL, sent=signal.SIGKILL).startswith("killed by the master (SIGKILL")
    assert how_it_died(-signal.SIGABRT) == "killed by SIGABRT (aborted)"
    assert how_it_died(3) == "exited with code 3"


def test_an_unset_conf_with_two_workers_exits_4_with_one_line(tmp_path, gunicorn):
    """No UAI_SERVICE_CONFIG: the master runs on the default knobs (here UAI_WORKERS 2) and each
    worker's boot refuses; one line says so, as for a failed model load (it said it twice)."""
    conf = {"http_server": {"exec": {"main_class": "Broken", "main_file": "broken"}}}
    server = gunicorn(write_project(tmp_path, FAILING_LOAD, conf), UAI_SERVICE_CONFIG="", UAI_WORKERS="2")
    code = server.process.wait(timeout=30)
    log = server.log()
    assert code == 4, log
    lines = [line for line in log.splitlines() if "model load failed" in line]
    assert len(lines) == 1, log
    assert lines[0].endswith("UAI_SERVICE_CONFIG is not set; point it at the service's conf.json")


def test_a_starting_master_removes_the_files_of_killed_masters_and_keeps_live_ones(tmp_path, monkeypatch):
    from httpserver import supervision

    monkeypatch.setattr(supervision, "SHARED_MEMORY", tmp_path)
    dead = 4194305  # above Linux's largest pid: no such process
    live = os.getpid()
    names = [
        f"uai-flight-{dead}-12",
        f"uai-load-failed-{dead}",
        f"uai-flight-{live}-13",
        f"uai-load-failed-{live}",
        f"uai-metrics-{dead}-not-ours",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    supervision.remove_dead_masters()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[2:])
