"""A/B of the server against another checkout's: `python -m bench.ab --base /work/main [--write]`.

Runs `bench.server`'s echo and matmul models at concurrency 32 under wrk, alternating the two
servers round by round (so both see the same machine), and prints per server the median
requests/s, p99 and the CPU time the server's processes spent per request (read from /proc;
on a busy machine it moves less than requests/s). `--base` is a checkout of this repository
(its template's server is run); the other side is this checkout. With `--write` the table
goes into BENCHMARKS.md between the `bench:ab` markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import server as bench_server
from bench.markers import report

START, END = "<!-- bench:ab:start -->", "<!-- bench:ab:end -->"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """One server's runs: (requests/s, p99 ms, CPU us per request) per model."""

    name: str
    root: Path
    runs: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its children (the gunicorn master and workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0.0
    for process in [pid, *map(int, children)]:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def measure(side: Side, model: str, workdir: Path, files: tuple[Path, Path], args) -> None:
    body_file, script = files
    server = bench_server.Server("uaipack", model, workdir, server_root=side.root)
    try:
        server.wait_ready(body_file.read_bytes())
        bench_server.wrk_load(server.port, body_file, script, 32, args.warmup)
        before = cpu_seconds(server.process.pid)
        rps, _, p99, errors = bench_server.wrk_load(server.port, body_file, script, 32, args.duration)
        spent = cpu_seconds(server.process.pid) - before
    finally:
        server.stop()
    if errors:
        raise SystemExit(f"{side.name} {model}: {errors} errors under load; see {server.log_path}")
    per_request_us = spent / (rps * round(args.duration)) * 1e6
    side.runs.setdefault(model, []).append((rps, p99, per_request_us))
    print(f"  {model:6} {side.name:6} {rps:8.0f} req/s  p99 {p99:6.2f} ms  cpu {per_request_us:6.1f} us/req")


def markdown(sides: list[Side], args) -> str:
    base, ours = sides
    lines = [
        f"Measured by `python -m bench.ab` on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}): wrk at c=32 on the same cores, {args.rounds} alternating rounds "
        f"of {args.duration:g} s, medians; `base` is `{base.root.parents[1].name}`, `this` this checkout.",
        "",
        "| model | server | requests/s | p99 ms | server CPU per request | requests/s vs base |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for model in args.models:
        base_rps = statistics.median(run[0] for run in base.runs[model])
        for side in sides:
            rps, p99, cpu = (statistics.median(run[index] for run in side.runs[model]) for index in range(3))
            change = f"{rps / base_rps - 1:+.1%}"
            lines.append(f"| {model} | {side.name} | {rps:.0f} | {p99:.2f} | {cpu:.1f} us | {change} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", type=Path, required=True, help="a checkout of this repository to compare with"
    )
    parser.add_argument("--models", default="echo,matmul", help="comma-separated (default echo,matmul)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each run")
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = parser.parse_args(argv)
    args.models = args.models.split(",")
    template = "{{cookiecutter.project_slug}}"
    sides = [Side("base", args.base.resolve() / template / "server"), Side("this", bench_server.SERVER_ROOT)]
    if not (sides[0].root / "gunicorn.conf.py").is_file():
        raise SystemExit(f"--base {args.base}: no {template}/server/gunicorn.conf.py there")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/bootstrap.sh does)")
    repeats, _ = bench_server.calibrate_fixed_matmuls()
    os.environ["BENCH_FIXED_MATMULS"] = str(repeats)
    with tempfile.TemporaryDirectory(prefix="uaipack-ab-") as tmp:
        workdir = Path(tmp)
        files = (workdir / "body.json", workdir / "post.lua")
        files[0].write_bytes(bench_server.request_body())
        files[1].write_text(bench_server.WRK_SCRIPT)
        for round_number in range(args.rounds):
            print(f"round {round_number + 1} of {args.rounds}", flush=True)
            for model in args.models:
                for side in sides if round_number % 2 == 0 else sides[::-1]:
                    measure(side, model, workdir, files, args)
    text = markdown(sides, args)
    report(text, bench_server.BENCHMARKS_MD, START, END, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
