"""The per-process runtime: settings, the model host, the batching loop and the metrics, wired once.

`asgi.py` (or `wsgi.py`) calls `boot()` when a worker imports the application: it reads
the knobs, starts the batching loop and loads the model in the background. A failed load (or an
unusable conf) ends the process with exit code 4, which gunicorn's master takes as
"App failed to load" and stops the whole server non-zero. Tests build a `Runtime`
around an object of their own and `install` it instead.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable

from uai.frameworks import default_code_root

from httpserver import supervision
from httpserver.batching import Batcher
from httpserver.config import ConfError, ServerSettings, conf_path, read_conf, server_settings
from httpserver.loading import READY, ModelHost
from httpserver.metrics import Metrics

log = logging.getLogger("httpserver.runtime")

#: gunicorn's arbiter halts the whole server when a worker exits with this code.
APP_LOAD_ERROR = 4

_current: Runtime | None = None

#: Statuses beyond the model's own (`loading`, `ready`, `failed`).
STOPPING, STALLED = "stopping", "stalled"


class Runtime:
    """Everything one process needs to answer requests."""

    def __init__(self, settings: ServerSettings, model: ModelHost, metrics: Metrics | None = None):
        self.settings = settings
        self.model = model
        self.metrics = metrics or Metrics()
        self.batcher = Batcher(
            model.execute,
            max_batch_size=settings.max_batch_size,
            max_latency_ms=settings.max_latency_ms,
            queue_size=settings.queue_size,
            request_timeout_s=settings.request_timeout_s,
            execute_timeout_s=settings.execute_timeout_s,
            metrics=self.metrics,
        )
        self.metrics.queue_depth = lambda: self.batcher.depth
        # The published readiness is the probes' (and checks for a stall once a second).
        self.metrics.model_status = lambda: self.status
        self.metrics.model_load_seconds = lambda: self.model.load_seconds

    @property
    def status(self) -> str:
        """The one answer every probe and the metrics give: `loading` or `failed` (the model),
        `stopping` (the batching loop has ended or takes no new work), `stalled` (an execute
        is over `execute_timeout_s`), else `ready`."""
        status = self.model.status
        if status != READY:
            return status
        if not self.batcher.alive:
            return STOPPING
        if self.batcher.stalled() is not None:
            return STALLED
        return READY

    @property
    def ready(self) -> bool:
        """Model loaded, batching loop alive, no execute stalled: what /readyz reports."""
        return self.status == READY

    @property
    def alive(self) -> bool:
        """False while an execute is stalled or once the loop has died: what /healthz reports
        (a liveness probe then restarts the process)."""
        return self.alive_when(self.status)

    def alive_when(self, status: str) -> bool:
        """`alive` for a `status` already read (one reading per probe: an execute returning
        between two readings made /healthz answer 503 with `"status": "ready"`)."""
        return status != STALLED and not (status == STOPPING and not self.batcher.thread_alive)

    def start(
        self, on_failure: Callable[[str], None] | None = None, on_ready: Callable[[], None] | None = None
    ) -> Runtime:
        self.batcher.start()
        if not self.model.loaded.is_set():
            self.model.start(on_ready=on_ready, on_failure=on_failure)
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Refuse new requests and answer the queued ones; True if that finished in time."""
        return self.batcher.stop(timeout)


def install(runtime: Runtime | None) -> Runtime | None:
    """Make `runtime` the one the views use (tests); returns the previous one."""
    global _current
    previous, _current = _current, runtime
    return previous


def installed() -> Runtime | None:
    """The runtime of this process, or None before `boot` (or `install`) made one: for the
    code that answers before the model exists (probes, the console, the body limit)."""
    return _current


def current_settings() -> ServerSettings:
    """The knobs of this process; their defaults before the runtime is booted."""
    return _current.settings if _current is not None else ServerSettings()


def current() -> Runtime:
    """The runtime of this process; raises when it has not been booted (a view that needs it)."""
    if _current is None:
        raise RuntimeError("the server runtime has not been booted; httpserver.asgi (or .wsgi) boots it")
    return _current


def from_environment() -> Runtime:
    """The runtime for `UAI_SERVICE_CONFIG` and `UAI_*` knobs (raises ConfError)."""
    path = conf_path()
    conf = read_conf(path)
    settings = server_settings(conf)
    return Runtime(settings, ModelHost(path, default_code_root(), conf=conf))


def exit_process(message: str) -> None:
    """End this worker so gunicorn's master stops non-zero (the message is already logged)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(APP_LOAD_ERROR)


def drop_request_signals() -> None:
    """Disconnect Django's per-request housekeeping that this server has no use for.

    On every request's start and end Django runs `reset_queries` and `close_old_connections`
    (databases: this server configures none), `close_caches` (no cache is used) and
    `reset_urlconf` (no middleware sets a per-request urlconf; each request sets the root
    one again). With no receivers left, each signal returns at once (measured: about a
    tenth of an echo request's time in Django). A project that adds a database keeps the
    database ones.
    """
    from django.conf import settings
    from django.core import signals
    from django.core.cache import close_caches
    from django.core.handlers.base import reset_urlconf
    from django.db import close_old_connections, reset_queries

    if not settings.DATABASES:
        signals.request_started.disconnect(reset_queries)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_caches)
    signals.request_finished.disconnect(reset_urlconf)


def boot(on_failure: Callable[[str], None] = exit_process) -> Runtime | None:
    """Build, install and start the runtime from the environment, once per process."""
    if _current is not None:
        return _current
    drop_request_signals()
    try:
        runtime = from_environment()
    except ConfError as error:
        if supervision.first_load_failure():  # with several workers, one says it
            log.error("model load failed: %s", error)
        on_failure(str(error))
        return None
    install(runtime)
    return runtime.start(on_failure=on_failure, on_ready=freeze_heap)


def freeze_heap() -> None:
    """Once the model is loaded, leave everything alive so far out of garbage collection.

    Django, numpy and the model are tens of thousands of long-lived objects; every full
    collection walked them all while holding the GIL (measured: about 20 ms each, a stall
    for every request in flight, a few times per second under load). `gc.freeze` moves them to
    the permanent generation; what requests allocate is still collected as before.
    """
    gc.collect()
    gc.freeze()
