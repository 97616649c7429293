"""The log under refusals, with real gunicorn on 127.0.0.1: one access line per request, no
`django.request` ERROR line for the server's own 503s and 504s, and overload summed up in
one line per 10 s (`httpserver.logs.RefusalSummary`)."""

import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.test import Client
from httpserver import logs

from server.support import write_project

pytestmark = pytest.mark.slow

SLOW_MODULE = """
import os
import time


class Slow:
    def __init__(self, conf):
        time.sleep(float(os.environ["TEST_LOAD_SECONDS"]))

    def execute(self, data, batch_size):
        if data[0].body == b"boom":
            raise ValueError("a real fault")
        time.sleep(0.2)
        return ["ok"] * batch_size
"""
SLOW_CONF = {
    "http_server": {"exec": {"main_class": "Slow", "main_file": "slow"}},
    "server": {"max_batch_size": 1, "max_latency_ms": 0, "queue_size": 4, "request_timeout_s": 0.5},
}


def status(server, method: str, path: str, body: bytes | None = None, sent: list | None = None) -> int:
    """The status of one request (0 for no answer), noted in `sent`."""
    if sent is not None:
        sent.append(path)
    try:
        return requests.request(method, server.url + path, data=body, timeout=10).status_code
    except requests.RequestException:
        return 0


def test_refusals_give_access_lines_only_and_one_overload_summary(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, SLOW_MODULE, SLOW_CONF), TEST_LOAD_SECONDS="6")
    server.wait_until(lambda: status(server, "GET", "/healthz") == 200, what="the server to listen")
    sent: list[str] = []
    polls = [status(server, "GET", "/readyz", sent=sent) for _ in range(200)]
    assert polls.count(503) == 200  # all while the model loads
    server.wait_until(lambda: status(server, "GET", "/readyz", sent=sent) == 200, timeout=30, what="ready")
    with ThreadPoolExecutor(64) as pool:
        burst = list(pool.map(lambda _: status(server, "POST", "/service", b"x"), range(300)))
    assert burst.count(503) > 100 and burst.count(504) > 0 and set(burst) <= {200, 503, 504}
    assert status(server, "POST", "/service", b"boom") == 500
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    log = server.log()
    assert "django.request" not in log
    assert len(re.findall(r"access: GET /readyz (200|503) ", log)) == len(sent) >= 201
    assert len(re.findall(r"access: POST /service (200|503|504) ", log)) == 300
    summaries = re.findall(r"^.*overload: refused .*$", log, re.M)
    assert len(summaries) == 1, log
    counted = {503: 0, 504: 0}
    for count, code in re.findall(r"(\d+) requests (50[34]) \(\w+\)", summaries[0]):
        counted[int(code)] += int(count)
    assert counted == {503: burst.count(503), 504: burst.count(504)}, summaries[0]
    # the one real fault is logged once, with its traceback
    assert len(re.findall(r"execute raised (\w+ )?for a batch of 1 requests", log)) == 1
    assert "ValueError: a real fault" in log


def test_probes_answering_503_are_not_counted_as_refused_requests(serve):
    """The overload summary counts requests the server refused; a liveness or readiness poll
    of a stalled (or stopping) process is a probe's answer, not a refusal ("overload: refused 6
    requests 503 (stalled)" from the orchestrator's own polls misled)."""
    gate = threading.Event()

    class Hanging:
        def execute(self, data, batch_size):
            gate.wait(10)
            return ["late"] * batch_size

    current = serve(Hanging(), execute_timeout_s=0.05, max_latency_ms=0)
    client = Client()
    answer = []
    request = threading.Thread(target=lambda: answer.append(Client().post("/service", b"x", "text/plain")))
    request.start()
    try:
        deadline = time.monotonic() + 5
        while current.status != "stalled" and time.monotonic() < deadline:
            time.sleep(0.02)
        logs.refusals.flush()
        polls = [client.get(path).status_code for path in ("/healthz", "/readyz") * 3]
        assert polls == [503] * 6
        assert logs.refusals.flush() is None
    finally:
        gate.set()
        request.join(10)
    assert answer[0].status_code == 200
