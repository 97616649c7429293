"""Hostile and slow clients against the real server (gunicorn on 127.0.0.1, raw sockets):
head limits, timeouts, the connection limit, lingering close, Upgrade and malformed requests.

Two servers for the module (about 2 s each to start): one with short timeouts and a 1 MiB
body limit, one with a connection limit of 4. The whole module takes about 10 s.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests

from bench.hostile import ESTABLISHED, held_connections
from server.conftest import Gunicorn
from server.support import write_project

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("protocol")]  # one server pair per run

ECHO_MODULE = """
from uai.arch.base_model import AiUcloudModel


class Echo(AiUcloudModel):
    def load_model(self):
        pass

    def execute(self, data, batch_size):
        return [b"x" * int(item.body[4:]) if item.body.startswith(b"big:") else item.body for item in data]
"""
ECHO_CONF = {"http_server": {"exec": {"main_class": "Echo", "main_file": "echo_model"}}}
SHORT = "0.5"  # seconds, for every timeout of the first server


def start(root: Path, **env: str) -> Gunicorn:
    conf_file = write_project(root, ECHO_MODULE, ECHO_CONF)
    server = Gunicorn(conf_file, conf_file.parent / "code", root / "gunicorn.log", **env)
    server.wait_until(lambda: ready(server), what="ready")
    return server


def ready(server: Gunicorn) -> bool:
    try:
        return requests.get(server.url + "/readyz", timeout=5).status_code == 200
    except (requests.ConnectionError, requests.Timeout):  # still booting on a loaded machine
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start(
        tmp_path_factory.mktemp("guarded"),
        UAI_HEADER_TIMEOUT_S=SHORT,
        UAI_BODY_TIMEOUT_S=SHORT,
        UAI_KEEPALIVE_TIMEOUT_S=SHORT,
        UAI_SEND_TIMEOUT_S="1",
        UAI_MAX_BODY_BYTES=str(1024 * 1024),
    )
    yield running
    running.stop()


def connect(server: Gunicorn) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; raises if it resets or stays silent."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def worker_rss_kib(server: Gunicorn) -> int:
    (worker,) = server.worker_pids()
    status = Path(f"/proc/{worker}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def metric(server: Gunicorn, name: str, **labels: str) -> float:
    """The sum of the samples of `name` that carry `labels`, from one scrape."""
    text = requests.get(server.url + "/metrics", timeout=5).text
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(
        float(value)
        for head, value in re.findall(rf"^({re.escape(name)}(?:\{{[^}}]*\}})?) (\S+)$", text, re.M)
        if all(label in head for label in wanted)
    )


def test_a_head_with_more_fields_than_max_headers_gets_431_and_the_connection_closes(server):
    sock = connect(server)
    fields = b"".join(b"X-%d: v\r\n" % index for index in range(101))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
    answer = read_until_closed(sock)
    assert status_of(answer) == 431 and b'"too_many_headers"' in answer and b"connection: close" in answer


def test_a_head_streamed_past_max_header_bytes_gets_431_without_the_worker_buffering_it(server):
    before = worker_rss_kib(server)
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ")
    sent = 0
    try:
        for _ in range(20 * 16):  # 20 MiB of one header value, never ended
            sock.sendall(b"a" * 65536)
            sent += 65536
    except OSError:
        pass  # the server may close once its lingering ends; the answer was sent before
    answer = read_until_closed(sock)
    assert status_of(answer) == 431 and b"server.max_header_bytes" in answer
    assert sent > 32 * 1024  # it read (and dropped) what came after the answer
    assert worker_rss_kib(server) - before < 8 * 1024


def test_a_request_target_over_max_header_bytes_gets_414(server):
    sock = connect(server)
    sock.sendall(b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status_of(read_until_closed(sock)) == 414


def test_a_head_that_trickles_in_gets_408_after_header_timeout(server):
    sock = connect(server)
    started = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
    answer, answered_after = b"", None
    for index in range(30):  # a header every 0.1 s, as slowloris does
        time.sleep(0.1)
        sock.sendall(b"X-%d: v\r\n" % index)
        with contextlib.suppress(BlockingIOError):
            answer = sock.recv(65536, socket.MSG_DONTWAIT)
        if answer:
            answered_after = time.monotonic() - started
            break
    sock.shutdown(socket.SHUT_WR)
    answer += read_until_closed(sock)
    assert status_of(answer) == 408 and b"server.header_timeout_s" in answer
    assert answered_after is not None and 0.4 < answered_after < 2


def test_a_connection_that_sends_nothing_is_closed_after_the_keepalive_timeout(server):
    sock = connect(server)
    started = time.monotonic()
    assert read_until_closed(sock) == b""
    assert 0.4 < time.monotonic() - started < 3


def test_a_body_that_stalls_gets_408_after_body_timeout(server):
    sock = connect(server)
    started = time.monotonic()
    sock.sendall(b"POST /service HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    answer = read_until_closed(sock)
    assert status_of(answer) == 408 and b"server.body_timeout_s" in answer
    assert 0.4 < time.monotonic() - started < 3
    assert requests.post(server.url + "/service", data=b"next", timeout=5).content == b"next"


def ask_big(server: Gunicorn, size: int, receive_buffer: int | None = None, count: int = 1) -> socket.socket:
    """A connection that has asked the echo model for `count` answers of `size` bytes (pipelined)."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    body = f"big:{size}".encode()
    head = b"POST /service HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)
    sock.sendall((head + body) * count)
    return sock


def test_an_answer_the_client_never_reads_is_cut_off_after_send_timeout(server):
    """A slow-read client: before, its 64 MiB answer stayed in the worker's memory (and held a
    stopping worker's drain) for as long as the client kept the connection open. Its second
    and third requests, pipelined, are dropped with it (uvicorn let the second one write to the
    closed connection: a traceback in the log)."""
    before = metric(server, "uai_http_refused_total", reason="send_timeout")
    started = time.monotonic()
    sock = ask_big(server, 64 * 1024 * 1024, receive_buffer=4096, count=3)
    server.wait_until(
        lambda: metric(server, "uai_http_refused_total", reason="send_timeout") == before + 1,
        timeout=10,
        what="the send timeout",
    )
    assert time.monotonic() - started > 0.9  # not before server.send_timeout_s (1 s here)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(1 << 20):
            received += chunk
    sock.close()
    assert status_of(received) == 200 and len(received) < 32 * 1024 * 1024  # cut off, the rest dropped
    cut = r"closed the connection of 127\.0\.0\.1:\d+: it read nothing of its answer for 1 s"
    assert re.search(cut, server.log())
    assert requests.post(server.url + "/service", data=b"next", timeout=5).content == b"next"
    assert "Exception in ASGI application" not in server.log()


def test_an_unread_answer_whose_tail_stays_below_the_high_water_mark_is_cut_off_too(server):
    """Answers a little larger than the kernel's socket buffers hold: the transport keeps a tail
    under its high-water mark, never pauses, and a close waited for that tail for ever. Sizes
    in steps smaller than the mark, so that some of them end that way on any kernel."""
    sizes = range(2_400_000, 4_600_000, 48 * 1024)
    sockets = [ask_big(server, size, receive_buffer=4096) for size in sizes]
    try:
        server.wait_until(
            lambda: held_connections(server.port, ESTABLISHED) == 0,
            timeout=10,
            what="every connection closed",
        )
    finally:
        for sock in sockets:
            sock.close()


def test_a_refusal_of_a_pipelined_request_never_lands_inside_the_answer_before_it(server):
    """Request 1 is being answered (8 MiB, not yet read) when request 2's body stalls: its 408
    was written into the middle of answer 1. Now the connection is reset instead."""
    sock = ask_big(server, 8 * 1024 * 1024, receive_buffer=4096)
    sock.sendall(b"POST /service HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")  # 3 of 10
    time.sleep(0.8)  # past body_timeout_s (0.5 s here), before send_timeout_s (1 s)
    received = b""
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := sock.recv(1 << 20):
            received += chunk
    sock.close()
    assert status_of(received) == 200
    assert b"HTTP/1.1 408" not in received


def test_a_client_that_reads_slowly_but_on_gets_its_whole_answer_past_send_timeout(server):
    size = 16 * 1024 * 1024
    sock = ask_big(server, size)
    started, received = time.monotonic(), b""
    while True:  # 1 MiB, then a pause: 16 pauses, about 5 s in all
        chunk = b""
        while len(chunk) < 1 << 20 and (part := sock.recv(1 << 20)):
            chunk += part
        if not chunk:
            break
        received += chunk
        time.sleep(0.3)
        if b"\r\n\r\n" in received and len(received.partition(b"\r\n\r\n")[2]) >= size:
            break
    sock.close()
    assert time.monotonic() - started > 3  # well past server.send_timeout_s, 1 s here
    assert status_of(received) == 200 and len(received.partition(b"\r\n\r\n")[2]) == size


@pytest.mark.parametrize("client", ["urllib", "http.client, Connection: close", "chunked"])
def test_a_body_over_the_limit_sent_whole_before_reading_gets_its_413_not_a_reset(server, client):
    body = b"x" * (8 * 1024 * 1024)  # 8 x the limit, far more than the socket buffers hold
    if client == "urllib":
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(server.url + "/service", data=body), timeout=10)
        assert refused.value.code == 413 and b"payload_too_large" in refused.value.read()
        return
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    if client == "chunked":
        chunks = iter([body[:1048576]] * 8)
        connection.request(
            "POST", "/service", body=chunks, headers={"Connection": "close"}, encode_chunked=True
        )
    else:
        connection.request("POST", "/service", body=body, headers={"Connection": "close"})
    answer = connection.getresponse()
    assert (answer.status, answer.getheader("connection")) == (413, "close")
    assert b"server.max_body_bytes" in answer.read()


def test_an_upgrade_request_is_served_as_plain_http_with_its_body_and_logs_nothing(server):
    sock = connect(server)
    sock.sendall(
        b"POST /service HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /service HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n"
    )
    answers = read_until_closed(sock)
    assert re.findall(rb"HTTP/1.1 (\d+)", answers) == [b"200", b"200", b"200"]
    assert b"\r\n\r\nhello" in answers and b"\r\n\r\nabc" in answers and b'{"status": "alive"}' in answers
    assert metric(server, "uai_http_upgrades_ignored_total") >= 3
    assert "upgrade" not in server.log().lower()


def test_malformed_requests_get_400_are_counted_and_logged_once_per_interval(server):
    before = metric(server, "uai_http_refused_total", reason="malformed")
    for _ in range(20):
        sock = connect(server)
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert status_of(read_until_closed(sock)) == 400
    assert metric(server, "uai_http_refused_total", reason="malformed") - before == 20
    lines = [line for line in server.log().splitlines() if "not valid HTTP/1.1" in line]
    assert len(lines) == 1 and "Invalid HTTP request" not in server.log()


def test_past_max_connections_a_new_connection_gets_503_and_is_served_once_others_close(tmp_path):
    server = start(tmp_path, UAI_MAX_CONNECTIONS="4", UAI_KEEPALIVE_TIMEOUT_S="30")
    try:
        held = [connect(server) for _ in range(4)]
        time.sleep(0.2)  # the worker has accepted them
        for _ in range(3):
            sock = connect(server)
            sock.sendall(b"POST /service HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
            answer = read_until_closed(sock)
            assert (
                status_of(answer) == 503
                and b"retry-after: 1" in answer
                and b"server.max_connections" in answer
            )
        for sock in held[:2]:
            sock.close()
        server.wait_until(
            lambda: requests.post(server.url + "/service", data=b"hi", timeout=5).content == b"hi",
            what="a connection to be served again",
        )
        assert len([line for line in server.log().splitlines() if "server.max_connections" in line]) == 1
    finally:
        server.stop()
