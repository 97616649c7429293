"""The server's metrics, exposed by the standard Prometheus client (prometheus-client) so that
one scrape of /metrics reports the whole server, whichever worker answers it.

Under gunicorn (`PROMETHEUS_MULTIPROC_DIR` set by `httpserver.multiprocess`) each worker writes
its figures to its own files in that directory and the worker that answers a scrape merges
them all with the client's `MultiProcessCollector`: counters and histograms are summed over
every worker that ever ran (an exited worker's counts stay), the queue depth and the open
connections are summed over the live workers, readiness and load time are given per live
worker (`pid` label), and so are the standard process metrics (memory, CPU, file descriptors).
`python_info` and `uaipack_build_info` say what runs. The client's garbage-collector metrics are
left out: they describe the process that answers the scrape only, a different one each time.
Without that variable (tests, a WSGI server of your own) the same metrics describe this process.

Counting stays in plain Python on the request path (a dict update and a bucket increment under a
lock), and what was counted is published to the client's metrics once a second, and by the
worker that answers a scrape just before it answers: in multiprocess mode each of the client's
`inc`/`observe` calls writes its shared file under a lock, measured at 3.3 us more per request
than these additions (4 % of an echo request; BENCHMARKS.md). So another worker's figures in a
scrape may be up to `PUBLISH_INTERVAL_S` old.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.values import ValueClass

from httpserver.version import runtime_info

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
KNOWN_PATHS = frozenset({"/service", "/initialized", "/healthz", "/readyz", "/metrics"})
PUBLISH_INTERVAL_S = 1.0
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what `generate_latest` writes for these names
#: prometheus-client chose its storage when it was imported (before any metric was made).
MULTIPROCESS = bool(getattr(ValueClass, "_multiprocess", False))

#: What the HTTP protocol layer (`httpserver.protocol`) met in this process: `refused_<reason>`
#: and `upgrades_ignored`. Module-level, as the protocol serves the process, not a runtime.
http_events: dict[str, int] = {}


def no_connections() -> int:
    return 0


#: How many connections this process has open: the worker sets it (`httpserver.workers`).
open_connections: Callable[[], int] = no_connections


def observe_http_event(event: str) -> None:
    """Count one refusal or ignored upgrade (rare events, on the event loop: no lock)."""
    http_events[event] = http_events.get(event, 0) + 1


class Tally:
    """One histogram's observations counted in plain Python: per bucket (`le` semantics, the
    last one +Inf) and their sum."""

    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value

    def copy(self) -> Tally:
        other = Tally(self.buckets)
        other.counts, other.total = list(self.counts), self.total
        return other


class BulkHistogram(Histogram):
    """The client's histogram, taking many observations at once (what a `Tally` gathered)."""

    def add(self, counts: list[int], total: float) -> None:
        # The client keeps one value per bucket and one for the sum (`Histogram.observe`
        # increments them one observation at a time); pinned in server/requirements.txt.
        for value, count in zip(self._buckets, counts, strict=True):
            if count:
                value.inc(count)
        self._sum.inc(total)


class ClientMetrics:
    """The prometheus-client metrics the counts are published to (names as before the client)."""

    def __init__(self, registry: CollectorRegistry | None):
        kind = {"registry": registry}
        self._make_counts(kind)
        self._make_gauges(kind)

    def _make_counts(self, kind: dict) -> None:
        self.requests = Counter(
            "uai_requests", "HTTP requests answered, by path and status.", ["path", "status"], **kind
        )
        self.latency = BulkHistogram(
            "uai_request_duration_seconds", "Time to answer POST /service.", buckets=LATENCY_BUCKETS, **kind
        )
        self.batch_size = BulkHistogram(
            "uai_batch_size", "Requests per execute call.", buckets=BATCH_BUCKETS, **kind
        )
        self.batches_failed = Counter(
            "uai_batches_failed", "execute calls that raised or returned a wrong result list.", **kind
        )
        self.http_refused = Counter(
            "uai_http_refused",
            "Requests and connections the HTTP layer refused (400, 408, 414, 431, 503), by reason.",
            ["reason"],
            **kind,
        )
        self.upgrades_ignored = Counter(
            "uai_http_upgrades_ignored", "Requests asking for an Upgrade, served as HTTP/1.1.", **kind
        )

    def _make_gauges(self, kind: dict) -> None:
        self.queue_depth = Gauge(
            "uai_queue_depth", "Requests waiting for the batching loops.", multiprocess_mode="livesum", **kind
        )
        self.connections = Gauge(
            "uai_connections_open", "Open HTTP connections.", multiprocess_mode="livesum", **kind
        )
        self.model_ready = Gauge(
            "uai_model_ready",
            "1 once the worker's model is loaded, else 0.",
            multiprocess_mode="liveall",
            **kind,
        )
        self.load_seconds = Gauge(
            "uai_model_load_seconds",
            "Time the worker's model took to load.",
            multiprocess_mode="liveall",
            **kind,
        )


class Counts:
    """What has been counted in this process, as plain numbers (a snapshot, or the published part)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.latency = Tally(LATENCY_BUCKETS)
        self.batch_size = Tally(BATCH_BUCKETS)
        self.batches_failed = 0
        self.http_events: dict[str, int] = {}

    def snapshot(self) -> Counts:
        """A copy, with the module's `http_events` as they are now."""
        other = Counts()
        other.requests = dict(self.requests)
        other.latency, other.batch_size = self.latency.copy(), self.batch_size.copy()
        other.batches_failed = self.batches_failed
        other.http_events = dict(http_events)
        return other


class Metrics:
    """The server's metrics: `observe_*` on the request path, `render` for /metrics. Gauges that
    live elsewhere are read through the callables when the counts are published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._counts = Counts()
        self._published = Counts()
        self.queue_depth: Callable[[], int] = lambda: 0
        self.model_status: Callable[[], str] = lambda: "loading"
        self.model_load_seconds: Callable[[], float | None] = lambda: None
        # In multiprocess mode the metrics go to the shared files, read back by `scrape_registry`.
        self._registry = None if MULTIPROCESS else CollectorRegistry(auto_describe=True)
        self._client = ClientMetrics(self._registry)
        if MULTIPROCESS:
            threading.Thread(target=self._publish_forever, name="uai-metrics", daemon=True).start()
        else:
            for collector in (ProcessCollector(registry=None), PlatformCollector(registry=None), BuildInfo()):
                self._registry.register(collector)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        key = (path if path in KNOWN_PATHS else "other", status)
        counts = self._counts
        with self._lock:
            counts.requests[key] = counts.requests.get(key, 0) + 1
            if path == "/service":
                counts.latency.observe(seconds)

    def observe_batch(self, size: int, failed: bool = False) -> None:
        counts = self._counts
        with self._lock:
            counts.batch_size.observe(size)
            counts.batches_failed += failed

    def render(self) -> str:
        """The whole server's metrics in the text exposition format."""
        self.publish()
        registry = scrape_registry() if MULTIPROCESS else self._registry
        return generate_latest(registry).decode()

    def publish(self) -> None:
        """Hand what was counted since the last call to the client's metrics, and set the gauges."""
        with self._publish_lock:
            with self._lock:
                now = self._counts.snapshot()
            publish_counts(self._client, now, self._published)
            self._published = now
            self._set_gauges()

    def _set_gauges(self) -> None:
        client = self._client
        client.queue_depth.set(self.queue_depth())
        client.connections.set(open_connections())
        client.model_ready.set(int(self.model_status() == "ready"))
        load_seconds = self.model_load_seconds()
        if load_seconds is not None:
            client.load_seconds.set(load_seconds)

    def _publish_forever(self) -> None:
        while True:
            time.sleep(PUBLISH_INTERVAL_S)
            try:
                self.publish()
            except Exception:  # a failed publish must not end the thread; the next one retries
                continue


def publish_counts(client: ClientMetrics, now: Counts, before: Counts) -> None:
    """Add the differences between two snapshots of the counts to the client's metrics."""
    for (path, status), count in now.requests.items():
        delta = count - before.requests.get((path, status), 0)
        if delta:
            client.requests.labels(path, str(status)).inc(delta)
    for tally, published, histogram in (
        (now.latency, before.latency, client.latency),
        (now.batch_size, before.batch_size, client.batch_size),
    ):
        deltas = [a - b for a, b in zip(tally.counts, published.counts, strict=True)]
        if any(deltas):
            histogram.add(deltas, tally.total - published.total)
    if now.batches_failed != before.batches_failed:
        client.batches_failed.inc(now.batches_failed - before.batches_failed)
    for event, count in now.http_events.items():
        delta = count - before.http_events.get(event, 0)
        if not delta:
            continue
        if event.startswith("refused_"):
            client.http_refused.labels(event.removeprefix("refused_")).inc(delta)
        elif event == "upgrades_ignored":
            client.upgrades_ignored.inc(delta)


class BuildInfo:
    """`uaipack_build_info{version, commit} 1`: which runtime this server runs."""

    def collect(self):
        info = runtime_info()
        family = GaugeMetricFamily(
            "uaipack_build_info", "The uaipack runtime this server runs.", labels=["version", "commit"]
        )
        family.add_metric([info["version"], info["commit"]], 1)
        yield family


class WorkerProcesses:
    """The standard process metrics (`process_*`) of every live worker, with a `pid` label.

    A worker is live while its live-gauge files exist (gunicorn's `child_exit` removes them,
    see `httpserver.multiprocess`)."""

    def __init__(self, directory: str):
        self.directory = Path(directory)

    def pids(self) -> list[int]:
        found = {int(path.stem.rsplit("_", 1)[1]) for path in self.directory.glob("gauge_live*_*.db")}
        return sorted(pid for pid in found if Path(f"/proc/{pid}").exists())

    def collect(self):
        families: dict[str, Metric] = {}
        for pid in self.pids():
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                merged = families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
        yield from families.values()


def scrape_registry() -> CollectorRegistry:
    """Every worker's metrics (from the shared directory), the live workers' process metrics,
    the platform's and the build's."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    for collector in (WorkerProcesses(directory), PlatformCollector(registry=None), BuildInfo()):
        registry.register(collector)
    return registry
