"""Soak of the inference server: `python -m bench.soak [--seconds 600] [--fraction 0.5]`.

A real framework model (the scikit-learn pipeline of tests/frameworks, served by the project's
own sklearn stub) under gunicorn on 127.0.0.1, as the image runs it (`workers` 2). First the
capacity is measured (a closed loop at concurrency 16 for a few seconds), then the server is
held at `--fraction` of it for `--seconds` by an open loop: requests are due at fixed times,
each latency counted from when it was due (so a stall is not hidden by the client waiting).
Printed: RSS and open file descriptors of the master and each worker at the start, every
minute and at the end; requests sent, answered by status, failed (no answer or not 200), and
p50 / p99 / max latency.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # before numpy is imported, here and in the server

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "{{cookiecutter.project_slug}}"
SERVER_ROOT = TEMPLATE / "server"
sys.path[:0] = [str(REPO / "tests"), str(SERVER_ROOT.parent)]

from uaipack.registry import free_port, stop_process  # noqa: E402

from bench.markers import quantile  # noqa: E402
from bench.server import start_uaipack  # noqa: E402

SENDERS = 32  # client threads of the open loop, each with its own keep-alive connection


def make_project(root: Path) -> tuple[Path, bytes]:
    """A sklearn service folder (stub, fitted model, conf.json); its conf path and one body."""
    from frameworks.models import make_sklearn

    code = root / "code"
    (code / "checkpoint_dir").mkdir(parents=True)
    shutil.copyfile(TEMPLATE / "code" / "_stubs" / "sklearn.py", code / "mnist_inference.py")
    case = make_sklearn(code / "checkpoint_dir", "model")
    conf = {
        "http_server": {
            "exec": {"main_class": "MnistModel", "main_file": "mnist_inference"},
            "sklearn": {"model_dir": "checkpoint_dir", "model_name": "model"},
        },
        "server": {"workers": 2},
    }
    (root / "conf.json").write_text(json.dumps(conf))
    return root / "conf.json", json.dumps(case.inputs[0]).encode()


def start_server(conf: Path, port: int, log: Path) -> subprocess.Popen:
    return start_uaipack(conf, conf.parent / "code", port, log.open("wb"))


def wait_ready(port: int, body: bytes, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}) before it was ready")
        try:
            if post(http.client.HTTPConnection("127.0.0.1", port, timeout=5), body) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server was not ready within 60 s")


def post(connection: http.client.HTTPConnection, body: bytes) -> int:
    connection.request("POST", "/service", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def process_figures(master: int) -> dict[str, tuple[int, int]]:
    """{"master 12": (RSS in KiB, open fds), "worker 13": ...} from /proc."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    figures = {}
    for role, pid in [("master", master)] + [("worker", int(child)) for child in children]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            figures[f"{role} {pid}"] = (rss, len(os.listdir(f"/proc/{pid}/fd")))
        except (OSError, StopIteration):
            continue
    return figures


def show_figures(label: str, figures: dict[str, tuple[int, int]]) -> None:
    text = ", ".join(f"{name}: {rss / 1024:.1f} MiB, {fds} fds" for name, (rss, fds) in figures.items())
    print(f"{label:>8}: {text}", flush=True)


def capacity(port: int, body: bytes, seconds: float = 5.0, concurrency: int = 16) -> float:
    """Requests per second of a closed loop at `concurrency`."""
    counts = [0] * concurrency
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            if post(connection, body) == 200:
                counts[index] += 1

    threads = [threading.Thread(target=client, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


class OpenLoop:
    """Requests due at a fixed rate, spread over SENDERS threads; latency from the due time."""

    def __init__(self, port: int, body: bytes, rate: float, seconds: float):
        self.port, self.body, self.rate, self.seconds = port, body, rate, seconds
        self.latencies: list[float] = []
        self.statuses: dict[object, int] = {}
        self.lock = threading.Lock()

    def run(self) -> None:
        start = time.monotonic() + 0.1
        threads = [threading.Thread(target=self.sender, args=(start, index)) for index in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def sender(self, start: float, index: int) -> None:
        interval = SENDERS / self.rate
        due, end = start + index / self.rate, start + self.seconds
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        latencies, statuses = [], {}
        while due < end:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                status = post(connection, self.body)
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            latencies.append(time.monotonic() - due)
            statuses[status] = statuses.get(status, 0) + 1
            due += interval
        with self.lock:
            self.latencies += latencies
            for status, count in statuses.items():
                self.statuses[status] = self.statuses.get(status, 0) + count


def soak(args) -> int:
    """Start, measure capacity, hold the load, print the figures; 0 when nothing failed."""
    with tempfile.TemporaryDirectory(prefix="uai-soak-") as folder:
        conf, body = make_project(Path(folder))
        port, log = free_port(), Path(folder) / "server.log"
        server = start_server(conf, port, log)
        try:
            wait_ready(port, body, server)
            full = capacity(port, body)
            rate = full * args.fraction
            print(f"capacity {full:.0f} requests/s (closed loop, 16 clients); ", end="")
            print(f"soak at {rate:.0f}/s for {args.seconds:g} s")
            show_figures("start", process_figures(server.pid))
            load = OpenLoop(port, body, rate, args.seconds)
            runner = threading.Thread(target=load.run)
            runner.start()
            while runner.is_alive():
                runner.join(60)
                if runner.is_alive():
                    show_figures("minute", process_figures(server.pid))
            show_figures("end", process_figures(server.pid))
        finally:
            stop_process(server, grace_s=30)
        errors = [line for line in log.read_text(errors="replace").splitlines() if "[ERROR]" in line]
    return report(load, errors)


def report(load: OpenLoop, errors: list[str]) -> int:
    sent = sum(load.statuses.values())
    failed = sent - load.statuses.get(200, 0)
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(load.statuses.items(), key=str))
    print(f"requests {sent} ({sent / load.seconds:.0f}/s); answered by status {statuses}; failed {failed}")
    lat = load.latencies
    p50, p99, most = quantile(lat, 0.5) * 1000, quantile(lat, 0.99) * 1000, max(lat, default=0) * 1000
    print(f"latency from due time: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {most:.1f} ms")
    print(f"server log ERROR lines: {len(errors)}", *errors[:5], sep="\n  ")
    return 1 if failed or errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to hold the load")
    parser.add_argument("--fraction", type=float, default=0.5, help="the load, as a fraction of capacity")
    return soak(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
