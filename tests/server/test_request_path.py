"""The request path's single sources: the runtime accessor, the arrival ticket, the body
limit and the access line, each in one place, whatever way a request ends."""

import asyncio
import logging
import re
import socket
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from httpserver import runtime as runtime_module
from httpserver.arrival import Arrival
from httpserver.batching import Batcher
from httpserver.errors import BadRequest, PayloadTooLarge, ServerBusy
from httpserver.inputs import check_body_size, read_wsgi_body

from server.conftest import SERVER_ROOT
from server.support import write_project
from server.test_asgi import call
from server.test_gunicorn import get
from server.test_views import Echo, Gate

REPO = SERVER_ROOT.parents[1]


def test_no_module_but_runtime_reads_the_private_runtime_variable():
    readers = [
        str(path.relative_to(REPO))
        for root in (SERVER_ROOT, REPO / "{{cookiecutter.project_slug}}", REPO / "tests", REPO / "bench")
        for path in root.rglob("*.py")
        if path.name != "runtime.py"
        and ".venv" not in path.parts
        and re.search(r"\b_current\b", path.read_text(errors="replace"))
    ]
    assert readers == []


def test_only_the_arrival_ticket_announces_and_withdraws():
    callers = sorted(
        path.name
        for path in (SERVER_ROOT / "httpserver").glob("*.py")
        if path.name != "batching.py" and re.search(r"\.(announce|withdraw)\(", path.read_text())
    )
    assert callers == ["arrival.py"]


def test_installed_is_none_before_boot_and_current_then_raises_one_sentence(serve):
    previous = runtime_module.install(None)
    try:
        assert runtime_module.installed() is None
        assert runtime_module.current_settings().max_body_bytes > 0  # the defaults
        with pytest.raises(RuntimeError, match="has not been booted"):
            runtime_module.current()
    finally:
        runtime_module.install(previous)
    runtime = serve(Echo(), max_body_bytes=123)
    assert runtime_module.installed() is runtime is runtime_module.current()
    assert runtime_module.current_settings().max_body_bytes == 123


def test_an_arrival_withdraws_on_leaving_its_block_unless_it_was_submitted():
    batcher = Batcher(lambda items, size: items).start()
    try:
        with Arrival(batcher) as ticket:
            assert batcher._arriving == 1 and ticket.announced
        assert batcher._arriving == 0
        with pytest.raises(LookupError), Arrival(batcher):
            raise LookupError("the view failed")
        assert batcher._arriving == 0

        async def submitted():
            with Arrival(batcher) as ticket:
                job = ticket.submit("x", asyncio.get_running_loop())
                assert batcher._arriving == 0 and not ticket.announced
            return await batcher.wait_async(job, 5)

        assert asyncio.run(submitted()) == "x" and batcher._arriving == 0
    finally:
        batcher.stop(5)


def test_a_refused_submit_still_consumes_the_announcement():
    batcher = Batcher(lambda items, size: items, queue_size=0).start()
    try:

        async def refused():
            with Arrival(batcher) as ticket:
                ticket.submit("x", asyncio.get_running_loop())

        with pytest.raises(ServerBusy):
            asyncio.run(refused())
        assert batcher._arriving == 0
    finally:
        batcher.stop(5)


@pytest.mark.parametrize(
    "how",
    ["served", "declared_too_large", "grew_too_large", "bad_length", "client_left", "not_found"],
)
def test_every_way_a_request_ends_leaves_no_announcement_behind(serve, how):
    runtime = serve(Echo(), max_body_bytes=10)
    request = {
        "served": ("POST", "/service", [b"ok"], ()),
        "declared_too_large": ("POST", "/service", [b"x" * 11], [("Content-Length", "11")]),
        "grew_too_large": ("POST", "/service", [b"x" * 6, b"x" * 6], ()),
        "bad_length": ("POST", "/service", [b"x"], [("Content-Length", "one")]),
        "client_left": ("POST", "/service", [b"a", b"b"], ()),
        "not_found": ("POST", "/nowhere", [b"x"], ()),
    }[how]
    options = {"disconnect_after": 1} if how == "client_left" else {}
    call(*request, **options)
    assert runtime.batcher._arriving == 0


def test_a_refusal_by_the_view_withdraws_too(serve):
    runtime = serve(Echo())
    runtime.model.status = "loading"  # the view answers 503 before it submits
    try:
        assert call("POST", "/service", [b"x"])[0] == 503
    finally:
        runtime.model.status = "ready"
    assert runtime.batcher._arriving == 0


def test_after_a_refused_body_a_lone_request_pays_no_batching_wait(serve):
    serve(Echo(), max_body_bytes=10, max_latency_ms=3000)
    assert call("POST", "/service", [b"x" * 11], [("Content-Length", "11")])[0] == 413
    started = time.monotonic()
    assert call("POST", "/service", [b"alone"])[:3:2] == (200, b"alone")
    assert time.monotonic() - started < 1.0  # not the 3 s a forgotten announcement costs


def test_one_rule_decides_the_body_limit():
    check_body_size(10, declared=b"10", received=10)
    with pytest.raises(PayloadTooLarge):
        check_body_size(10, declared="11")
    with pytest.raises(PayloadTooLarge):
        check_body_size(10, received=11)
    with pytest.raises(BadRequest, match="Content-Length header is not a number"):
        check_body_size(10, declared=b"ten")


def test_the_wsgi_reader_asks_the_same_rule_before_reading():
    read = []
    with pytest.raises(PayloadTooLarge):
        read_wsgi_body({"CONTENT_LENGTH": "11"}, lambda: read.append(1) or b"", 10)
    assert read == []  # refused before the body was read

    class Stream:
        def read(self, size):
            return b"x" * size

    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": Stream()}
    with pytest.raises(PayloadTooLarge):
        read_wsgi_body(chunked, lambda: b"", 10)
    assert read_wsgi_body({"CONTENT_LENGTH": "3"}, lambda: b"abc", 10) == b"abc"


def access_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "httpserver.access"]


def test_every_request_writes_one_access_line_with_method_path_status_ms_and_batch(serve, caplog):
    runtime = serve(Echo(), max_body_bytes=10)
    with caplog.at_level(logging.INFO, logger="httpserver.access"):
        call("POST", "/service", [b"x"])
        call("GET", "/nowhere")
        call("POST", "/service", [b"x" * 11], [("Content-Length", "11")])
        runtime.model.status = "loading"
        call("POST", "/service", [b"x"])
        runtime.model.status = "ready"
    lines = access_lines(caplog)
    assert len(lines) == 4, lines
    method, path, status, ms, batch = lines[0].split()
    assert (method, path, status, batch) == ("POST", "/service", "200", "batch=1")
    assert ms.endswith("ms") and float(ms[:-2]) >= 0
    assert lines[1].startswith("GET /nowhere 404 ") and lines[1].endswith("batch=-")
    assert lines[2].startswith("POST /service 413 ") and lines[2].endswith("batch=-")
    assert lines[3].startswith("POST /service 503 ") and lines[3].endswith("batch=-")


def test_a_request_that_timed_out_logs_no_batch(serve, caplog):
    gate = Gate()
    serve(gate, request_timeout_s=0.2)
    with caplog.at_level(logging.INFO, logger="httpserver.access"):
        assert call("POST", "/service", [b"x"])[0] == 504
    gate.release.set()
    [line] = access_lines(caplog)
    assert line.startswith("POST /service 504 ") and line.endswith("batch=-")


def test_metrics_report_requests_latency_batch_sizes_queue_depth_and_load_time(serve):
    serve(Echo())
    call("POST", "/service", [b"x"])
    call("GET", "/nope")
    text = call("GET", "/metrics")[2].decode()
    assert 'uai_requests_total{path="/service",status="200"} 1.0' in text
    assert 'uai_requests_total{path="other",status="404"} 1.0' in text
    assert "uai_request_duration_seconds_count 1.0" in text and "uai_request_duration_seconds_bucket{" in text
    assert 'uai_batch_size_bucket{le="1.0"} 1.0' in text
    assert "uai_queue_depth 0.0" in text and "uai_model_load_seconds " in text
    assert "uai_model_ready 1.0" in text


def test_no_django_middleware_runs_and_no_second_access_writer_exists():
    assert settings.MIDDLEWARE == []
    assert not (SERVER_ROOT / "httpserver" / "middleware.py").exists()
    writers = [
        path.name
        for path in (SERVER_ROOT / "httpserver").glob("*.py")
        if "access.record(" in path.read_text() or "access_log.info(" in path.read_text()
    ]
    assert sorted(writers) == ["access.py", "handler.py"]


def test_every_answer_carries_a_content_length(serve):
    serve(Echo())
    for path in ("/healthz", "/readyz", "/nowhere"):
        status, headers, body, _ = call("GET", path)
        assert headers["content-length"] == str(len(body)), path


def test_the_tree_has_no_empty_stub_constructors():
    stubs = sorted((REPO / "{{cookiecutter.project_slug}}" / "code" / "_stubs").glob("*.py"))
    assert stubs
    for stub in stubs:
        assert "def __init__(self, conf):\n        super().__init__(conf)" not in stub.read_text(), stub
    assert Path(SERVER_ROOT / "httpserver" / "arrival.py").exists()


ECHO_MODULE = """
from uai.arch.base_model import AiUcloudModel


class Echo(AiUcloudModel):
    def load_model(self):
        return None

    def execute(self, data, batch_size):
        return [item.body for item in data]
"""
ECHO_CONF = {
    "http_server": {"exec": {"main_class": "Echo", "main_file": "echo"}},
    "server": {"max_latency_ms": 3000, "max_body_bytes": 1000},
}


def send_and_leave(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send a request (maybe a part of its body), read what comes within a second, and close."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(head + body)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


@pytest.mark.slow
def test_under_gunicorn_refused_and_abandoned_bodies_leave_a_lone_request_no_wait(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, ECHO_MODULE, ECHO_CONF))
    server.wait_until(lambda: getattr(get(server, "/readyz"), "status_code", 0) == 200, what="ready")
    too_large = b"POST /service HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
    assert b" 413 " in send_and_leave(server.port, too_large)
    halfway = b"POST /service HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    send_and_leave(server.port, halfway, b"x" * 10)  # leaves with 90 bytes unsent

    started = time.monotonic()
    answer = requests.post(server.url + "/service", data=b"alone", timeout=10)
    assert (answer.status_code, answer.content) == (200, b"alone")
    assert time.monotonic() - started < 1.0  # a forgotten announcement costs max_latency_ms, 3 s

    server.wait_until(lambda: "POST /service 200" in server.log(), timeout=5, what="the access line")
    lines = re.findall(r"access: (POST /service \d+) ", server.log())
    assert lines == ["POST /service 413", "POST /service 200"]  # the one that left has no answer
