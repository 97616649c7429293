"""Benchmark of the inference server: `python -m bench.server [--duration 5] [--write]`.

Starts the server as it runs in the image (`cd <server root> && gunicorn -c
gunicorn.conf.py httpserver.wsgi`) on 127.0.0.1, drives it with `wrk` (a Python
keep-alive load generator when wrk is missing) at concurrency 1, 8 and 32 for two models
taking a JSON list of 256 floats, and measures in the same run the references: the same
`execute` called in-process (1 and 32 items per call) and a bare Django view under
gunicorn (one gthread worker) calling `execute` once per request. It prints a table,
checks the targets of issue 3 and, with `--write`, puts the figures into BENCHMARKS.md
(between the markers of its "## Server" section; nothing else is touched).
BLAS is pinned to one thread everywhere. Every load run is bounded by `--duration`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"  # before numpy is imported, here and in every server started

REPO = Path(__file__).resolve().parents[1]
SERVER_ROOT = REPO / "{{cookiecutter.project_slug}}" / "server"
BENCH = Path(__file__).resolve().parent
MODELS = BENCH / "models"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
# uaipack (the template's library), the server and the benchmark models, importable from here.
sys.path[:0] = [str(SERVER_ROOT.parent), str(SERVER_ROOT), str(MODELS)]

from httpserver.config import env_name  # noqa: E402
from uaipack.registry import free_port, stop_process  # noqa: E402

from bench.markers import quantile, write_between  # noqa: E402

START, END = "<!-- bench:server:start -->", "<!-- bench:server:end -->"
CONCURRENCIES = (1, 8, 32)
MODEL_CLASSES = {"echo": "EchoModel", "matmul": "MatmulModel"}
TARGET_FIXED_MS = 2.5
GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass
class Run:
    """One load run against one server."""

    model: str
    server: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    mean_batch: float | None = None


@dataclass
class Results:
    runs: list[Run] = field(default_factory=list)
    inprocess: dict[tuple[str, int], float] = field(default_factory=dict)  # (model, per call) -> items/s
    fixed_matmuls: int = 1
    fixed_ms: float = 0.0
    loadgen: str = "wrk"

    def get(self, model: str, server: str, concurrency: int) -> Run | None:
        return next(
            (
                run
                for run in self.runs
                if (run.model, run.server, run.concurrency) == (model, server, concurrency)
            ),
            None,
        )


# -- the request body and the models ------------------------------------------------------------


def request_body() -> bytes:
    import numpy as np

    values = np.random.default_rng(1).standard_normal(256).round(6)
    return json.dumps(values.tolist()).encode()


def calibrate_fixed_matmuls(target_ms: float = TARGET_FIXED_MS) -> tuple[int, float]:
    """How many 240x240 float32 matmuls make the batch-friendly model's per-call cost ~target_ms."""
    import numpy as np

    square = np.random.default_rng(0).standard_normal((240, 240)).astype(np.float32)
    for _ in range(50):
        square @ square
    started, count = time.perf_counter(), 0
    while time.perf_counter() - started < 0.5 and count < 20000:
        square @ square
        count += 1
    one_ms = (time.perf_counter() - started) * 1000 / count
    repeats = max(1, round(target_ms / one_ms))
    return repeats, repeats * one_ms


def inprocess_items_per_second(model: str, per_call: int, seconds: float) -> float:
    """The model's execute called in a loop in this process, `per_call` fresh inputs per call."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "httpserver.settings")
    import bench_models
    from httpserver.inputs import RequestInput

    instance = getattr(bench_models, MODEL_CLASSES[model])({"http_server": {"exec": {}}})
    body = request_body()
    started, items, calls = time.perf_counter(), 0, 0
    while time.perf_counter() - started < seconds and calls < 1_000_000:
        data = [RequestInput(body, "application/json") for _ in range(per_call)]
        results = instance.execute(data, per_call)
        assert len(results) == per_call
        items += per_call
        calls += 1
    return items / (time.perf_counter() - started)


# -- servers ------------------------------------------------------------------------------------


def start_uaipack(
    conf: Path,
    code_dir: Path,
    port: int,
    log: IO[bytes],
    server_root: Path = SERVER_ROOT,
    knobs: dict[str, str] | None = None,
    **env: str,
) -> subprocess.Popen:
    """Our server (this checkout's, or `server_root`) as the image starts it, on
    127.0.0.1:`port`: `conf` and `code_dir` as UAI names them, `knobs` as `UAI_<KNOB>`
    variables, `env` added; its output goes to `log`."""
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "UAI_SERVICE_CONFIG": str(conf),
        "UAI_CODE_DIR": str(code_dir),
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        **{env_name(key): value for key, value in (knobs or {}).items()},
        **env,
    }
    return subprocess.Popen(
        [str(GUNICORN), "-c", "gunicorn.conf.py", "httpserver.wsgi"],
        cwd=server_root,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


class Server:
    """A gunicorn process on 127.0.0.1, stopped on exit; its log goes to a temporary file."""

    def __init__(self, kind: str, model: str, workdir: Path, server_root: Path = SERVER_ROOT, **knobs: str):
        self.kind, self.port = kind, free_port()
        self.log_path = workdir / f"{kind}-{model}-{self.port}.log"
        self._log = self.log_path.open("wb")
        if kind == "bare":  # BENCH_FIXED_MATMULS (os.environ) is set by run_all
            command, cwd, env = self._bare_view(model, knobs)
            self.process = subprocess.Popen(
                command, cwd=cwd, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
            )
        else:
            conf = workdir / f"conf-{model}.json"
            exec_section = {"main_class": MODEL_CLASSES[model], "main_file": "bench_models"}
            conf.write_text(json.dumps({"http_server": {"exec": exec_section}}))
            self.process = start_uaipack(conf, MODELS, self.port, self._log, server_root, knobs)

    def _bare_view(self, model: str, knobs: dict[str, str]) -> tuple[list[str], Path, dict[str, str]]:
        """The reference: a bare Django view under stock gunicorn (gthread unless told)."""
        env = {
            "BENCH_MODEL": f"bench_models.{MODEL_CLASSES[model]}",
            "DJANGO_SETTINGS_MODULE": "bare_site.settings",
            "PYTHONPATH": os.pathsep.join([str(SERVER_ROOT), str(MODELS), str(BENCH)]),
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            *(str(GUNICORN), "-k", knobs.get("worker_class", "gthread")),
            *("-w", knobs.get("workers", "1"), "--threads", knobs.get("threads", "32")),
            *("-b", f"127.0.0.1:{self.port}", "--keep-alive", "5", "bare_site.wsgi"),
        ]
        return command, BENCH, env

    def wait_ready(self, body: bytes, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.kind} server exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                status, _ = post_once(self.port, body)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(
            f"{self.kind} server not ready within {timeout} s:\n{self.log_path.read_text()[-3000:]}"
        )

    def batch_totals(self) -> tuple[float, float] | None:
        """(sum, count) of the batch-size histogram, from /metrics (our server only)."""
        if self.kind == "bare":
            return None
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
        connection.close()
        total = float(re.search(r"^uai_batch_size_sum(?:\{[^}]*\})? (\S+)", text, re.M).group(1))
        count = float(re.search(r"^uai_batch_size_count(?:\{[^}]*\})? (\S+)", text, re.M).group(1))
        return total, count

    def stop(self) -> None:
        stop_process(self.process, grace_s=20)
        self._log.close()


def post_once(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", "/service", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- load generators ----------------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BENCH_BODY_FILE"), "rb")
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk_load(
    port: int, body_file: Path, script: Path, concurrency: int, seconds: float
) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, errors) from one wrk run."""
    threads = min(2, concurrency)
    output = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(concurrency),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/service",
        ],
        env={**os.environ, "BENCH_BODY_FILE": str(body_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    requests, duration_us, p50_us, p99_us, errors = map(
        int, re.search(r"^BENCH (.+)$", output, re.M).group(1).split()
    )
    return requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000, errors


def python_load(port: int, body: bytes, concurrency: int, seconds: float) -> tuple[float, float, float, int]:
    """The fallback: `concurrency` threads, each a keep-alive http.client connection."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        mine, failed = _keep_alive_client(port, body, deadline)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    elapsed = time.monotonic() - started
    if not latencies:
        return 0.0, 0.0, 0.0, errors[0]
    p50, p99 = (quantile(latencies, share) * 1000 for share in (0.50, 0.99))
    return len(latencies) / elapsed, p50, p99, errors[0]


def _keep_alive_client(port: int, body: bytes, deadline: float) -> tuple[list[float], int]:
    """One client's loop until the deadline: (latencies in s of the answered requests, errors)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies: list[float] = []
    errors = 0
    while time.monotonic() < deadline and len(latencies) < 1_000_000:
        started = time.perf_counter()
        try:
            connection.request("POST", "/service", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            errors += response.status != 200
        except OSError:
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - started)
    connection.close()
    return latencies, errors


# -- the run ------------------------------------------------------------------------------------


def measure(
    server: Server,
    model: str,
    label: str,
    concurrencies,
    args,
    body: bytes,
    body_file: Path,
    script: Path,
    results: Results,
) -> None:
    for concurrency in concurrencies:
        drive = (
            (lambda c, s: wrk_load(server.port, body_file, script, c, s))
            if results.loadgen == "wrk"
            else (lambda c, s: python_load(server.port, body, c, s))
        )
        if args.warmup > 0:
            drive(concurrency, args.warmup)
        before = server.batch_totals()
        rps, p50, p99, errors = drive(concurrency, args.duration)
        after = server.batch_totals()
        mean_batch = None
        if before and after and after[1] > before[1]:
            mean_batch = (after[0] - before[0]) / (after[1] - before[1])
        run = Run(model, label, concurrency, rps, p50, p99, errors, mean_batch)
        results.runs.append(run)
        print(
            f"  {model:6} {label:22} c={concurrency:<3} {rps:8.0f} req/s  p50 {p50:6.2f} ms  "
            f"p99 {p99:6.2f} ms  errors {errors}" + (f"  mean batch {mean_batch:.1f}" if mean_batch else ""),
            flush=True,
        )


def run_all(args) -> Results:
    results = Results(loadgen="wrk" if shutil.which("wrk") and not args.python_loadgen else "python")
    if results.loadgen == "python":
        print("wrk not found: using the Python load generator (it competes for the same cores)", flush=True)
    results.fixed_matmuls, results.fixed_ms = calibrate_fixed_matmuls()
    os.environ["BENCH_FIXED_MATMULS"] = str(results.fixed_matmuls)
    print(
        f"batch-friendly model: {results.fixed_matmuls} x 240x240 matmul per call "
        f"= {results.fixed_ms:.2f} ms",
        flush=True,
    )
    body = request_body()
    with tempfile.TemporaryDirectory(prefix="uaipack-bench-") as tmp:
        workdir = Path(tmp)
        body_file, script = workdir / "body.json", workdir / "post.lua"
        body_file.write_bytes(body)
        script.write_text(WRK_SCRIPT)
        for model in MODEL_CLASSES:
            measure_inprocess(model, args.inprocess, results)
            for kind, label, knobs, concurrencies in server_plans(args.variants):
                server = Server(kind, model, workdir, **knobs)
                try:
                    server.wait_ready(body)
                    measure(server, model, label, concurrencies, args, body, body_file, script, results)
                finally:
                    server.stop()
    return results


def measure_inprocess(model: str, seconds: float, results: Results) -> None:
    """The in-process references: `execute` with 1 and with 32 items per call."""
    for per_call in (1, 32):
        results.inprocess[(model, per_call)] = inprocess_items_per_second(model, per_call, seconds)
        print(
            f"  {model:6} in-process, {per_call:2} per call: "
            f"{results.inprocess[(model, per_call)]:8.0f} items/s",
            flush=True,
        )


def server_plans(variants: bool) -> list[tuple[str, str, dict[str, str], tuple[int, ...]]]:
    """(kind, label, knobs, concurrencies) of each server to measure per model."""
    plans = [
        ("uaipack", "uaipack", {}, CONCURRENCIES),
        ("bare", "bare django view", {}, CONCURRENCIES),
    ]
    if variants:
        plans += [
            ("uaipack", "uaipack workers=2", {"workers": "2"}, (32,)),
            ("bare", "bare sync workers=2", {"worker_class": "sync", "workers": "2"}, (32,)),
        ]
    return plans


# -- report -------------------------------------------------------------------------------------


Target = tuple[str, bool, str]  # (name, met, figures)


def targets(results: Results) -> list[Target]:
    """Issue 3's targets as (name, met, figures)."""
    return [*_echo_targets(results), *_batching_targets(results), *_lone_client_targets(results)]


def _against_bare(results: Results, model: str, concurrency: int) -> tuple[Run, Run] | tuple[None, None]:
    """Our run and the bare view's at the same model and concurrency, when both ran."""
    ours, bare = (
        results.get(model, "uaipack", concurrency),
        results.get(model, "bare django view", concurrency),
    )
    return (ours, bare) if ours and bare else (None, None)


def _rps_ratio(name: str, ours: Run, bare: Run, factor: float) -> Target:
    met = ours.rps >= factor * bare.rps
    return name, met, f"{ours.rps:.0f} vs {bare.rps:.0f} ({ours.rps / bare.rps:.2f}x)"


def _echo_targets(results: Results) -> list[Target]:
    ours, bare = _against_bare(results, "echo", 32)
    if ours is None:
        return []
    p99 = f"{ours.p99_ms:.2f} vs {bare.p99_ms:.2f} ms ({ours.p99_ms / bare.p99_ms:.2f}x)"
    return [
        _rps_ratio("echo c=32 req/s >= 0.9x bare view", ours, bare, 0.9),
        ("echo c=32 p99 <= 1.5x bare view", ours.p99_ms <= 1.5 * bare.p99_ms, p99),
    ]


def _batching_targets(results: Results) -> list[Target]:
    ours, bare = _against_bare(results, "matmul", 32)
    if ours is None:
        return []
    inproc = results.inprocess.get(("matmul", 32), 0)
    return [
        _rps_ratio("batch-friendly c=32 req/s >= 2x bare view", ours, bare, 2),
        (
            "batch-friendly c=32 req/s >= 1/3 in-process items/s at 32 per call",
            ours.rps >= inproc / 3,
            f"{ours.rps:.0f} vs {inproc:.0f} / 3 = {inproc / 3:.0f}",
        ),
    ]


def _lone_client_targets(results: Results) -> list[Target]:
    found = []
    for model in MODEL_CLASSES:
        ours, bare = _against_bare(results, model, 1)
        if ours is not None:
            found.append(
                (
                    f"{model} c=1 p50 <= bare view p50 + 1 ms",
                    ours.p50_ms <= bare.p50_ms + 1,
                    f"{ours.p50_ms:.2f} vs {bare.p50_ms:.2f} ms (+{ours.p50_ms - bare.p50_ms:.2f} ms)",
                )
            )
    return found


def markdown(results: Results) -> str:
    lines = [
        f"Measured by `python -m bench.server` on {os.cpu_count()} cores ({platform.machine()}, "
        f"Python {platform.python_version()}), load generator `{results.loadgen}` on the same cores, "
        f"BLAS pinned to one thread. Batch-friendly model: per call {results.fixed_matmuls} x 240x240 "
        f"float32 matmul = {results.fixed_ms:.2f} ms, per item its row @ 256x256 and argmax.",
        "",
        "| model | server | concurrency | requests/s | p50 ms | p99 ms | mean batch | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results.runs:
        batch = f"{run.mean_batch:.1f}" if run.mean_batch else "-"
        lines.append(
            f"| {run.model} | {run.server} | {run.concurrency} | {run.rps:.0f} | {run.p50_ms:.2f} | "
            f"{run.p99_ms:.2f} | {batch} | {run.errors} |"
        )
    lines += [
        "",
        "| model | in-process, 1 item per call | in-process, 32 items per call |",
        "|---|---:|---:|",
    ]
    for model in MODEL_CLASSES:
        lines.append(
            f"| {model} | {results.inprocess[(model, 1)]:.0f} items/s | "
            f"{results.inprocess[(model, 32)]:.0f} items/s |"
        )
    lines += ["", "| target | met | figures |", "|---|---|---|"]
    for name, met, figures in targets(results):
        lines.append(f"| {name} | {'yes' if met else '**no**'} | {figures} |")
    return "\n".join(lines)


def write_benchmarks(results: Results) -> None:
    """Replace the text between the markers of BENCHMARKS.md's Server section; nothing else."""
    write_between(BENCHMARKS_MD, START, END, markdown(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per measured load run (default 5)"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of unmeasured load before each run"
    )
    parser.add_argument("--inprocess", type=float, default=2.0, help="seconds per in-process reference")
    parser.add_argument(
        "--variants", action="store_true", help="also measure the worker-model alternatives at c=32"
    )
    parser.add_argument(
        "--python-loadgen", action="store_true", help="use the Python load generator even with wrk"
    )
    parser.add_argument("--write", action="store_true", help="write the figures into BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.duration = min(max(args.duration, 1.0), 60.0)
    args.warmup = min(max(args.warmup, 0.0), 10.0)
    results = run_all(args)
    print()
    print(markdown(results))
    if args.write:
        write_benchmarks(results)
        print(f"\nwrote the figures into {BENCHMARKS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
