"""/metrics through prometheus-client: the client's metrics that `httpserver.metrics` publishes
its counts to, and the registry a scrape is written from.

Imported on the first publish (a second after a worker starts, or its first scrape), not
when the worker boots: prometheus-client's import takes 0.1 to 0.4 s, and a worker should
answer as early as it can. In multiprocess mode (see `httpserver.multiprocess`) the metrics
write the worker's files and a scrape merges every worker's; else they live in a registry
of this process, with the client's process and platform collectors.
"""

from __future__ import annotations

import os
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

from httpserver.metrics import BATCH_BUCKETS, CONTENT_TYPE, LATENCY_BUCKETS, Counts
from httpserver.version import runtime_info

#: What the client chose when it was imported (`httpserver.metrics` reads the same variable).
MULTIPROCESS = bool(getattr(ValueClass, "_multiprocess", False))
assert CONTENT_TYPE == CONTENT_TYPE_PLAIN_0_0_4, "httpserver.metrics.CONTENT_TYPE is what the client writes"


class Exposed:
    """This process's client metrics, and how a scrape of them (or of every worker) is written."""

    def __init__(self) -> None:
        self.registry = None if MULTIPROCESS else CollectorRegistry(auto_describe=True)
        self.client = ClientMetrics(self.registry)
        if not MULTIPROCESS:
            for collector in (ProcessCollector(registry=None), PlatformCollector(registry=None), BuildInfo()):
                self.registry.register(collector)

    def publish(self, now: Counts, before: Counts) -> None:
        publish_counts(self.client, now, before)

    def render(self) -> str:
        registry = scrape_registry() if MULTIPROCESS else self.registry
        return generate_latest(registry).decode()


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
            "Requests and connections the HTTP layer refused (400, 408, 414, 431, 503) or cut off "
            "(send_timeout), by reason.",
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
