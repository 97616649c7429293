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
lock), and what was counted is published to the client's metrics (`httpserver.exposition`, which
alone imports the client) once a second, and by the worker that answers a scrape just before it
answers: in multiprocess mode each of the client's
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

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
KNOWN_PATHS = frozenset({"/service", "/initialized", "/healthz", "/readyz", "/metrics"})
PUBLISH_INTERVAL_S = 1.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what the client writes for these names
#: The client's own rule (it reads the variable on import): multiprocess mode when it is set;
#: then each worker publishes from a thread of its own (`httpserver.exposition` checks the client).
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ

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
        self._exposed = None  # httpserver.exposition.Exposed, made by the first publish
        if MULTIPROCESS:
            threading.Thread(target=self._publish_forever, name="uai-metrics", daemon=True).start()

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
        return self._exposed.render()

    def publish(self) -> None:
        """Hand what was counted since the last call to the client's metrics, and set the gauges."""
        with self._publish_lock:
            if self._exposed is None:
                from httpserver import exposition  # prometheus-client: not on the worker's boot

                self._exposed = exposition.Exposed()
            with self._lock:
                now = self._counts.snapshot()
            self._exposed.publish(now, self._published)
            self._published = now
            self._set_gauges(self._exposed.client)

    def _set_gauges(self, client) -> None:
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
