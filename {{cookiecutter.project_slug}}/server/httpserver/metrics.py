"""Per-process metrics in the Prometheus text format, written by hand (no client library).

Counters and histograms are updated under one lock; each observation is a handful of
integer additions, cheap beside a request. With `workers` > 1 each process reports its
own figures (scrapes of one port reach one process at a time; the `pid` label says which).
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
KNOWN_PATHS = frozenset({"/service", "/initialized", "/healthz", "/readyz", "/metrics"})

#: What the HTTP protocol layer (`httpserver.protocol`) met, per process: `refused_<reason>`
#: and `upgrades_ignored`. Module-level, as the protocol serves the process, not a runtime.
http_events: dict[str, int] = {}


def observe_http_event(event: str) -> None:
    """Count one refusal or ignored upgrade (rare events: no lock needed on the event loop)."""
    http_events[event] = http_events.get(event, 0) + 1


class Histogram:
    """A cumulative-bucket histogram; `observe` is O(log buckets)."""

    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            edge = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{{labels},le="{edge}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {self.total:.6f}")
        out.append(f"{name}_count{{{labels}}} {self.count}")
        return out


class Metrics:
    """The server's metrics; gauges that live elsewhere are read through callables at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.batches_failed = 0
        self.queue_depth: Callable[[], int] = lambda: 0
        self.model_status: Callable[[], str] = lambda: "loading"
        self.model_load_seconds: Callable[[], float | None] = lambda: None

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        key = (path if path in KNOWN_PATHS else "other", status)
        with self._lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            if path == "/service":
                self.latency.observe(seconds)

    def observe_batch(self, size: int, failed: bool = False) -> None:
        with self._lock:
            self.batch_size.observe(size)
            self.batches_failed += failed

    def render(self) -> str:
        """The text exposition format (version 0.0.4)."""
        pid = f'pid="{os.getpid()}"'
        status = self.model_status()
        load_seconds = self.model_load_seconds()
        with self._lock:
            lines = [
                "# HELP uai_requests_total HTTP requests answered, by path and status.",
                "# TYPE uai_requests_total counter",
            ]
            for (path, code), count in sorted(self.requests.items()):
                lines.append(f'uai_requests_total{{{pid},path="{path}",status="{code}"}} {count}')
            lines += [
                "# HELP uai_request_duration_seconds Time to answer POST /service.",
                "# TYPE uai_request_duration_seconds histogram",
                *self.latency.lines("uai_request_duration_seconds", pid),
                "# HELP uai_batch_size Requests per execute call.",
                "# TYPE uai_batch_size histogram",
                *self.batch_size.lines("uai_batch_size", pid),
                "# HELP uai_batches_failed_total execute calls that raised or returned a wrong result list.",
                "# TYPE uai_batches_failed_total counter",
                f"uai_batches_failed_total{{{pid}}} {self.batches_failed}",
            ]
        lines += [
            "# HELP uai_queue_depth Requests waiting for the batching loop.",
            "# TYPE uai_queue_depth gauge",
            f"uai_queue_depth{{{pid}}} {self.queue_depth()}",
            "# HELP uai_model_ready 1 once the model is loaded, 0 while loading or after a failure.",
            "# TYPE uai_model_ready gauge",
            f'uai_model_ready{{{pid},status="{status}"}} {int(status == "ready")}',
        ]
        lines += [
            "# HELP uai_http_refused_total Requests and connections the HTTP layer refused, by reason.",
            "# TYPE uai_http_refused_total counter",
        ]
        for event, count in sorted(http_events.items()):
            if event.startswith("refused_"):
                lines.append(f'uai_http_refused_total{{{pid},reason="{event[8:]}"}} {count}')
        lines += [
            "# HELP uai_http_upgrades_ignored_total Requests asking for an Upgrade, served as HTTP/1.1.",
            "# TYPE uai_http_upgrades_ignored_total counter",
            f"uai_http_upgrades_ignored_total{{{pid}}} {http_events.get('upgrades_ignored', 0)}",
        ]
        if load_seconds is not None:
            lines += [
                "# HELP uai_model_load_seconds Time the model took to load.",
                "# TYPE uai_model_load_seconds gauge",
                f"uai_model_load_seconds{{{pid}}} {load_seconds:.6f}",
            ]
        return "\n".join(lines) + "\n"
