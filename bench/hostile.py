"""Hostile and slow clients against the server: `python -m bench.hostile [--base PATH] [--write]`.

Starts the server as the image does (gunicorn on 127.0.0.1, the echo model, 1 MiB body limit,
2 s timeouts so that a run takes about a minute) and tries each attack with raw sockets:
oversized and endless heads, slowloris, silent connections, stalled bodies, more connections
than the limit, oversized bodies from clients that send before they read, Upgrade requests
with a body, malformed requests, clients that never read their answers. Prints what happened
(and, with `--base`, what happened to another checkout's server, e.g. main before the
change) and the worker's memory growth.
With `--write` the table goes into RELIABILITY.md between the `bench:hostile` markers.
Every client is bounded in time (`PATIENCE_S`) and sends only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import resource
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench import server as bench_server
from bench.markers import report

START, END = "<!-- bench:hostile:start -->", "<!-- bench:hostile:end -->"
RELIABILITY_MD = bench_server.REPO / "RELIABILITY.md"
PATIENCE_S = 6.0
KNOBS = {
    "max_body_bytes": str(1024 * 1024),
    "header_timeout_s": "2",
    "body_timeout_s": "2",
    "keepalive_timeout_s": "2",
    "send_timeout_s": "2",
    "max_connections": "200",
}


class Target:
    """A running server to attack: its port, its worker's pid and its log."""

    def __init__(self, server: bench_server.Server):
        self.server, self.port = server, server.port

    def worker(self) -> int:
        pid = self.server.process.pid
        return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.worker()}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def log(self) -> str:
        return self.server.log_path.read_text(errors="replace")

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=PATIENCE_S)


def outcome(sock: socket.socket, started: float) -> str:
    """What the client got, and when: the first answer's status, or how the connection ended."""
    received = b""
    try:
        while not complete(received) and (chunk := sock.recv(65536)):
            received += chunk
    except TimeoutError:
        if not received:
            return f"nothing; still open after {time.monotonic() - started:.0f} s"
    except ConnectionResetError:
        after = f" (after {first_line(received)})" if received else ""
        return f"connection reset after {time.monotonic() - started:.1f} s{after}"
    finally:
        sock.close()
    if not received:
        return f"closed silently after {time.monotonic() - started:.1f} s"
    return f"{first_line(received)} after {time.monotonic() - started:.1f} s"


def complete(received: bytes) -> bool:
    """Whether `received` holds a whole answer (framed by Content-Length)."""
    head, separator, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.I)
    return bool(separator and length and len(body) >= int(length.group(1)))


def first_line(received: bytes) -> str:
    statuses = re.findall(rb"HTTP/1.1 (\d+)", received)
    return "/".join(status.decode() for status in statuses) or repr(received[:40])


def send_head(target: Target, head: bytes) -> str:
    started, sock = time.monotonic(), target.connect()
    sock.sendall(head)
    return outcome(sock, started)


def many_fields(target: Target) -> str:
    fields = b"".join(b"X-%d: v\r\n" % index for index in range(10_000))
    return send_head(target, b"GET /healthz HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")


def endless_header(target: Target, connections: int = 12) -> str:
    """`connections` clients each streaming a 20 MiB header value; the worker's growth."""
    before, results = target.rss_mib(), []
    peak = [before]

    def attack() -> None:
        started, sock = time.monotonic(), target.connect()
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ")
            for _ in range(320):
                sock.sendall(b"a" * 65536)
                peak[0] = max(peak[0], target.rss_mib())
            sock.sendall(b"\r\n\r\n")
        except OSError:
            pass
        results.append(outcome(sock, started))

    threads = [threading.Thread(target=attack) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return f"{results[0]}; worker memory +{peak[0] - before:.0f} MiB during the attack"


def slowloris(target: Target) -> str:
    started, sock = time.monotonic(), target.connect()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
    try:
        while time.monotonic() - started < PATIENCE_S - 1:
            time.sleep(0.5)
            sock.sendall(b"X-Slow: v\r\n")
            sock.settimeout(0.01)
            try:
                if sock.recv(65536, socket.MSG_PEEK):
                    break
            except (TimeoutError, BlockingIOError):
                pass
            finally:
                sock.settimeout(PATIENCE_S)
    except OSError:
        pass
    return outcome(sock, started)


def silent(target: Target) -> str:
    started = time.monotonic()
    return outcome(target.connect(), started)


def stalled_body(target: Target) -> str:
    return send_head(target, b"POST /service HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")


def over_connection_limit(target: Target, extra: int = 50) -> str:
    limit = int(KNOBS["max_connections"])
    held = [target.connect() for _ in range(limit)]
    time.sleep(0.5)
    answers: dict[str, int] = {}
    for _ in range(extra):
        sock = target.connect()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        result = re.sub(r" after .*", "", outcome(sock, time.monotonic()))
        answers[result] = answers.get(result, 0) + 1
    for sock in held:
        sock.close()
    return f"{limit} held open, then {extra} more: " + ", ".join(
        f"{n} x {what}" for what, n in answers.items()
    )


def oversized_body(target: Target) -> str:
    """An 8 MiB body over the 1 MiB limit, from three clients that send it whole first."""
    body, results = b"x" * (8 * 1024 * 1024), []
    for client in ("urllib", "http.client Connection: close", "chunked"):
        try:
            if client == "urllib":
                request = urllib.request.Request(f"http://127.0.0.1:{target.port}/service", data=body)
                urllib.request.urlopen(request, timeout=PATIENCE_S)
                results.append(f"{client}: 200")
                continue
            connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=PATIENCE_S)
            chunks = iter([body[:1048576]] * 8) if client == "chunked" else body
            headers = {"Connection": "close"}
            chunked = client == "chunked"
            connection.request("POST", "/service", body=chunks, headers=headers, encode_chunked=chunked)
            results.append(f"{client}: {connection.getresponse().status}")
        except urllib.error.HTTPError as error:
            results.append(f"{client}: {error.code}")
        except (OSError, urllib.error.URLError) as error:
            results.append(f"{client}: {type(getattr(error, 'reason', error)).__name__}")
    return "; ".join(results)


def upgrade_with_body(target: Target) -> str:
    started, sock = time.monotonic(), target.connect()
    sock.sendall(
        b"POST /service HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello"
    )
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except OSError:
        pass
    body = received.split(b"\r\n\r\n", 1)[-1]
    delivered = "its body reached execute" if body == b"hello" else f"execute got {body[:10]!r}"
    return f"{first_line(received)}, {delivered}, after {time.monotonic() - started:.1f} s"


def slow_readers(target: Target, clients: int = 100, pipelined: int = 8) -> str:
    """`clients` connections that each send `pipelined` requests of 1 MiB (echoed back) and
    never read (a slow-read attack: a small receive buffer): the worker's memory, and how many
    of the connections it still holds 2 s past `send_timeout_s`."""
    before = target.rss_mib()
    body = b"[" + b"1," * (512 * 1024 - 2) + b"1]"  # just under the 1 MiB limit
    request = b"POST /service HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    sockets = []

    def attack() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(2)
        sock.connect(("127.0.0.1", target.port))
        sockets.append(sock)
        with contextlib.suppress(OSError):  # the server stops reading once its answers back up
            sock.sendall(request * pipelined)

    threads = [threading.Thread(target=attack) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    grown = target.rss_mib() - before
    time.sleep(float(KNOBS["send_timeout_s"]) + 2)
    held, left = held_connections(target.port), target.rss_mib() - before
    for sock in sockets:
        sock.close()
    return (
        f"worker memory +{grown:.0f} MiB; 4 s later {held} of {clients} connections still held, "
        f"memory +{left:.0f} MiB"
    )


#: TCP states of a connection the server's kernel still holds with its data: established,
#: FIN-WAIT-1 (closed with unsent bytes queued), CLOSE-WAIT, LAST-ACK, CLOSING.
HELD_STATES = frozenset({"01", "04", "08", "09", "0B"})
ESTABLISHED = frozenset({"01"})


def held_connections(port: int, states: frozenset[str] = HELD_STATES) -> int:
    """Connections on the server's side of `port` in one of `states` (hex, as /proc/net/tcp
    writes them)."""
    rows = [row.split() for row in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for row in rows if row[1].endswith(f":{port:04X}") and row[3] in states)


def malformed(target: Target, count: int = 100) -> str:
    time.sleep(0.3)  # the access lines of the attack before are written (every 50 ms)
    lines_before = target.log().count("\n")
    statuses = set()
    for _ in range(count):
        sock = target.connect()
        sock.sendall(b"NOT HTTP\r\n\r\n")
        statuses.add(re.sub(r" after .*", "", outcome(sock, time.monotonic())))
    time.sleep(0.3)
    new_lines = target.log().count("\n") - lines_before
    return f"{count} x {'/'.join(sorted(statuses))}; {new_lines} log lines"


BIG = b"a" * 40_000
ATTACKS: list[tuple[str, Callable[[Target], str]]] = [
    ("a head of 10,000 header fields", many_fields),
    (
        "a 40 KB header field",
        lambda target: send_head(target, b"GET /healthz HTTP/1.1\r\nX: " + BIG + b"\r\n\r\n"),
    ),
    ("a 40 KB request target", lambda target: send_head(target, b"GET /" + BIG + b" HTTP/1.1\r\n\r\n")),
    ("12 clients streaming a 20 MiB header each", endless_header),
    ("slowloris: a header every 0.5 s", slowloris),
    ("a connection that sends nothing", silent),
    ("a body that stops after 3 of 100 bytes", stalled_body),
    ("max_connections + 50 connections", over_connection_limit),
    ("an 8 MiB body over a 1 MiB limit, sent before reading", oversized_body),
    ("POST with `Upgrade: h2c` and a body", upgrade_with_body),
    ("100 malformed requests", malformed),
    ("100 clients pipelining 8 requests of 1 MiB and never reading the answers", slow_readers),
]


FILE_LIMIT_ROW = "1,300 connections, file limit 1,024, default `max_connections`"


def attack_all(root: Path, workdir: Path) -> list[str]:
    server = bench_server.Server("uaipack", "echo", workdir, server_root=root, **KNOBS)
    try:
        server.wait_ready(b"[1]")
        target = Target(server)
        results: list[str] = []
        for name, attack in ATTACKS:
            results.append(attack(target))
            print(f"  {name}: {results[-1]}", flush=True)
    finally:
        server.stop()
    results.append(file_limit(root, workdir))
    print(f"  {FILE_LIMIT_ROW}: {results[-1]}", flush=True)
    return results


def file_limit(root: Path, workdir: Path, held: int = 1100, extra: int = 200) -> str:
    """With the soft file limit at 1,024 (as in many containers), `held` idle connections and
    then `extra` more: does a new client get an answer? (the default `max_connections`)"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # inherited by the server only
    try:
        knobs = {**KNOBS, "keepalive_timeout_s": "60", "max_connections": "1000"}
        server = bench_server.Server("uaipack", "echo", workdir, server_root=root, **knobs)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        server.wait_ready(b"[1]")
        target = Target(server)
        sockets = [target.connect() for _ in range(held)]
        answers: dict[str, int] = {}
        for _ in range(extra):
            sock = target.connect()
            sock.settimeout(2)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            result = re.sub(r" after .*", "", outcome(sock, time.monotonic()))
            answers[result] = answers.get(result, 0) + 1
        for sock in sockets:
            sock.close()
        logged = (
            "; logged" if "max_connections" in target.log() or "Too many open files" in target.log() else ""
        )
        return (
            f"{held} held, then {extra} more: "
            + ", ".join(f"{n} x {what}" for what, n in answers.items())
            + logged
        )
    finally:
        server.stop()


def markdown(columns: dict[str, list[str]]) -> str:
    knobs = ", ".join(f"`{name}` {value}" for name, value in KNOBS.items())
    lines = [
        f"Measured by `python -m bench.hostile` (gunicorn on 127.0.0.1, the echo model, {knobs}):",
        "",
        "| attack | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for index, name in enumerate([name for name, _ in ATTACKS] + [FILE_LIMIT_ROW]):
        lines.append(f"| {name} | " + " | ".join(results[index] for results in columns.values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="also attack this checkout's server (e.g. /work/main)")
    parser.add_argument("--write", action="store_true", help="write the table into RELIABILITY.md")
    args = parser.parse_args(argv)
    roots = {"this server": bench_server.SERVER_ROOT}
    if args.base:
        base = args.base.resolve()
        roots = {f"before (`{base.name}`)": base / "{{cookiecutter.project_slug}}" / "server", **roots}
    columns = {}
    with tempfile.TemporaryDirectory(prefix="uaipack-hostile-") as tmp:
        for name, root in roots.items():
            print(name, flush=True)
            columns[name] = attack_all(root, Path(tmp))
    text = markdown(columns)
    report(text, RELIABILITY_MD, START, END, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
