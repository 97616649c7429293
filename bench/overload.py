"""Goodput under overload, open loop: `python -m bench.overload [--base DIR] [--write]`.

Starts the server (gunicorn on 127.0.0.1, one worker) around a model of known capacity
(`execute` sleeps `--per-item` seconds per item, so capacity is 1 / per-item requests/s
whatever the batch size, and the machine's load hardly moves it) and offers it requests at
a fixed rate, open loop: request i leaves at t0 + i / rate whether or not earlier ones were
answered (a closed-loop generator like wrk slows down with the server and hides overload).
Each request is its own connection. For 1x, 2x and 5x capacity it reports the offered rate,
the answers per second by status (200 is the goodput), how many items `execute` ran per 200
(from /metrics: 1.0 is no wasted work) and the p50/p99 latency of the 200s. A fresh server
serves each level. `--base` is another checkout of this repository whose server is measured
the same way (before/after); with `--write` the table goes into RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER_ROOT = REPO / "{{cookiecutter.project_slug}}" / "server"
RELIABILITY_MD = REPO / "RELIABILITY.md"
START, END = "<!-- bench:overload:start -->", "<!-- bench:overload:end -->"
sys.path[:0] = [str(SERVER_ROOT.parent)]

from uaipack.registry import free_port, stop_process  # noqa: E402

from bench.markers import quantile, report  # noqa: E402
from bench.server import start_uaipack  # noqa: E402

MODEL = """
import os
import time
from uai.arch.self_model import SelfDefinedModel


class SleepModel(SelfDefinedModel):
    def execute(self, data, batch_size):
        time.sleep(float(os.environ["BENCH_PER_ITEM_S"]) * batch_size)
        return [b"ok"] * batch_size
"""


@dataclass
class Level:
    """One load level's outcome."""

    factor: float
    offered: float  # requests/s sent
    seconds: float  # from the first request sent to the last answer (the queue drained)
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # of the 200s
    executed: float = 0.0  # items execute ran

    def rate(self, status: str) -> float:
        return self.statuses.get(status, 0) / self.seconds

    def percentile(self, share: float) -> float:
        return quantile(self.latencies, share) * 1000


class Server:
    """The server of a checkout around the sleep model, on 127.0.0.1."""

    def __init__(self, root: Path, workdir: Path, per_item: float, knobs: dict[str, str]):
        self.port = free_port()
        (workdir / "sleep_model.py").write_text(MODEL)
        conf = workdir / "conf.json"
        conf.write_text(
            json.dumps({"http_server": {"exec": {"main_class": "SleepModel", "main_file": "sleep_model"}}})
        )
        self.log = (workdir / f"server-{self.port}.log").open("wb")
        self.process = start_uaipack(
            conf, workdir, self.port, self.log, root, knobs, BENCH_PER_ITEM_S=str(per_item)
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited ({self.process.returncode}); see {self.log.name}")
            status, _ = asyncio.run(request(self.port, "GET", "/readyz", 2.0))
            if status == "200":
                return
            time.sleep(0.1)
        raise SystemExit(f"the server was not ready within {timeout} s; see {self.log.name}")

    def executed(self) -> float:
        """Items execute has run so far (the batch-size histogram's sum)."""
        _, text = asyncio.run(request(self.port, "GET", "/metrics", 10.0))
        found = re.search(r"^uai_batch_size_sum (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    def stop(self) -> None:
        stop_process(self.process, grace_s=30)
        self.log.close()


async def request(port: int, method: str, path: str, timeout: float, body: bytes = b"") -> tuple[str, str]:
    """One request on a connection of its own: (status code or the error's name, body text)."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(head.encode() + body)
                answer = await reader.read(-1)
            finally:
                writer.close()
    except TimeoutError:
        return "client timeout", ""
    except OSError as error:
        return type(error).__name__, ""
    status_line, _, rest = answer.partition(b"\r\n")
    parts = status_line.split()
    return (parts[1].decode() if len(parts) > 1 else "no answer"), rest.partition(b"\r\n\r\n")[2].decode(
        errors="replace"
    )


async def offer(port: int, rate: float, seconds: float, timeout: float, level: Level) -> None:
    """Send `rate` requests/s for `seconds`, open loop; record every answer into `level`."""

    async def one() -> None:
        sent = time.perf_counter()
        status, _ = await request(port, "POST", "/service", timeout, b'{"x": 1}')
        level.statuses[status] = level.statuses.get(status, 0) + 1
        if status == "200":
            level.latencies.append(time.perf_counter() - sent)

    tasks, count = [], int(rate * seconds)
    started = time.perf_counter()
    for index in range(count):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)


def measure(root: Path, factor: float, args) -> Level:
    """One level on a fresh server of `root`."""
    capacity = 1.0 / args.per_item
    level = Level(factor, capacity * factor, args.duration)
    with tempfile.TemporaryDirectory(prefix="uai-overload-") as workdir:
        server = Server(root, Path(workdir), args.per_item, knobs(args))
        try:
            server.wait_ready()
            before, started = server.executed(), time.perf_counter()
            asyncio.run(offer(server.port, level.offered, args.duration, args.request_timeout + 15, level))
            level.seconds = time.perf_counter() - started
            time.sleep(1.5)  # the metrics are published once a second
            level.executed = server.executed() - before
        finally:
            server.stop()
    return level


def knobs(args) -> dict[str, str]:
    """The server knobs of a run (UAI_<KEY> variables); max_connections high enough for the backlog."""
    return {
        "request_timeout_s": str(args.request_timeout),
        "queue_size": str(args.queue_size),
        "max_batch_size": str(args.max_batch_size),
        "max_connections": "8000",
    }


def markdown(results: dict[str, list[Level]], args, load: str) -> str:
    """The table of every server measured."""
    lines = [
        f"Measured by `python -m bench.overload` ({platform.machine()}, {os.cpu_count()} cores, load "
        f"average {load} before the run): a model of {1 / args.per_item:g} requests/s "
        f"(execute sleeps {args.per_item * 1000:g} ms per item), "
        f"`request_timeout_s` {args.request_timeout:g}, "
        f"`queue_size` {args.queue_size}, `max_batch_size` {args.max_batch_size}, {args.duration:g} s of "
        "arrivals at a fixed rate per level (one connection each); rates are over the time from the first "
        "request to the last answer.",
        "",
        "| server | load | offered/s | 200/s (goodput) | 503/s | 504/s | other | items run per 200 "
        "| p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, levels in results.items():
        for level in levels:
            other = sum(
                count for status, count in level.statuses.items() if status not in {"200", "503", "504"}
            )
            per_answer = level.executed / level.statuses["200"] if level.statuses.get("200") else float("inf")
            lines.append(
                f"| {name} | {level.factor:g}x | {level.offered:.0f} | {level.rate('200'):.1f} | "
                f"{level.rate('503'):.1f} | {level.rate('504'):.1f} | {other} | {per_answer:.2f} | "
                f"{level.percentile(0.5):.0f} | {level.percentile(0.99):.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-item", type=float, default=0.02, help="seconds execute sleeps per item")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per level")
    parser.add_argument("--factors", default="1,2,5", help="load levels, as multiples of capacity")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="server.request_timeout_s")
    parser.add_argument("--queue-size", type=int, default=1024, help="server.queue_size")
    parser.add_argument("--max-batch-size", type=int, default=32, help="server.max_batch_size")
    parser.add_argument("--base", type=Path, help="another checkout to measure the same way (before)")
    parser.add_argument("--write", action="store_true", help="put the table into RELIABILITY.md")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    roots = {"this server": SERVER_ROOT}
    if args.base:
        roots = {"before": args.base / "{{cookiecutter.project_slug}}" / "server", **roots}
    results: dict[str, list[Level]] = {name: [] for name in roots}
    for factor in (float(value) for value in args.factors.split(",")):
        for name, root in roots.items():  # alternate the servers, so both see the same machine
            level = measure(root, factor, args)
            results[name].append(level)
            print(
                f"{name} {factor:g}x: {level.statuses}, "
                f"median {statistics.median(level.latencies or [0]):.3f} s"
            )
    report(markdown(results, args, load), RELIABILITY_MD, START, END, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
