"""What the HTTP layer's additions cost per request, in-process: `python -m bench.http_costs [--write]`.

Two measurements that a load test on a shared machine cannot resolve (a few microseconds in a
request of about 80):

- the protocol: uvicorn's `HttpToolsProtocol` and the server's `GuardedHttpProtocol` (limits,
  timeouts, lingering close) fed the same keep-alive POST with a 2.9 kB body and answering it
  from a trivial ASGI app, on uvloop, alternating; CPU time per request, the minimum and the
  median over the rounds;
- the metrics of one request: counted in plain Python and published later (`Metrics`, what
  the server does) against prometheus-client's own `inc` and `observe` in multiprocess mode
  (what it would cost to call the client on the request path), and the cost of one publish.

With `--write` the table goes into BENCHMARKS.md between the `bench:http-costs` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

_METRICS_DIR = tempfile.mkdtemp(prefix="uaipack-bench-metrics-")
atexit.register(shutil.rmtree, _METRICS_DIR, True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _METRICS_DIR  # before prometheus-client is imported
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "httpserver.settings")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "{{cookiecutter.project_slug}}" / "server")]

import uvloop  # noqa: E402
from httpserver import exposition, metrics  # noqa: E402
from httpserver.protocol import GuardedHttpProtocol  # noqa: E402
from uvicorn.config import Config  # noqa: E402
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

from bench.markers import report  # noqa: E402

START, END = "<!-- bench:http-costs:start -->", "<!-- bench:http-costs:end -->"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
REQUEST = (
    b"POST /service HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2900\r\n\r\n" + b"1" * 2900
)


class Transport:
    """Enough of a transport for the protocols: counts what is written."""

    def __init__(self):
        self.written, self.closing = 0, False

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def echo_app(scope, receive, send) -> None:
    body = (await receive())["body"]
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


def protocol_us(protocol_class, requests: int) -> float:
    """CPU microseconds per request for one connection of `protocol_class`."""
    loop = asyncio.get_event_loop()
    config = Config(app=echo_app, lifespan="off", access_log=False, server_header=False, date_header=False)
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    protocol.connection_made(Transport())

    async def drive() -> float:
        started = time.process_time()
        for _ in range(requests):
            protocol.data_received(REQUEST)
            await asyncio.sleep(0)  # the request's task runs
            await asyncio.sleep(0)
        return time.process_time() - started

    return loop.run_until_complete(drive()) / requests * 1e6


def compare_protocols(rounds: int) -> dict[str, list[float]]:
    asyncio.set_event_loop(uvloop.new_event_loop())
    runs: dict[str, list[float]] = {"uvicorn HttpToolsProtocol": [], "GuardedHttpProtocol": []}
    for _ in range(rounds):
        runs["uvicorn HttpToolsProtocol"].append(protocol_us(HttpToolsProtocol, 3000))
        runs["GuardedHttpProtocol"].append(protocol_us(GuardedHttpProtocol, 3000))
    return runs


def per_call_us(function, calls: int = 200_000) -> float:
    started = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - started) / calls * 1e6


def compare_metrics() -> dict[str, float]:
    """Microseconds per request (and per publish) of the ways to count one request."""
    ours = metrics.Metrics()
    client = exposition.ClientMetrics(None)
    child = client.requests.labels("/service", "200")
    counted = {
        "counted in Python, published later (the server)": per_call_us(
            lambda: ours.observe_request("/service", 200, 0.0021)
        ),
        "prometheus-client inc + observe (multiprocess)": per_call_us(
            lambda: (child.inc(), client.latency.observe(0.0021))
        ),
    }

    def one_publish() -> None:
        ours.observe_request("/service", 200, 0.0021)
        ours.observe_batch(32)
        ours.publish()

    counted["one publish (once a second per worker)"] = per_call_us(one_publish, 2000)
    return counted


def markdown(protocols: dict[str, list[float]], counting: dict[str, float], rounds: int) -> str:
    lines = [
        f"Measured by `python -m bench.http_costs` ({os.cpu_count()} cores, CPU time per request, "
        f"{rounds} alternating rounds of 3,000 requests):",
        "",
        "| HTTP protocol | min us/request | median us/request |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {min(runs):.2f} | {statistics.median(runs):.2f} |" for name, runs in protocols.items()
    ]
    lines += ["", "| metrics of one request | us |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in counting.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_costs", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="alternating protocol rounds (default 40)")
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = parser.parse_args(argv)
    text = markdown(compare_protocols(args.rounds), compare_metrics(), args.rounds)
    report(text, BENCHMARKS_MD, START, END, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
