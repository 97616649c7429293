"""`ServiceWorker`: the gunicorn worker class of the image, uvicorn (uvloop + httptools) serving
`httpserver.asgi`.

Chosen by measurement (BENCHMARKS.md): one event loop per process parses HTTP and runs
the Django views, one batching thread runs `execute`. gunicorn's `gthread` worker spent
more per request than a whole Django request costs here (a bare WSGI echo app: 4,200
requests/s under gthread, 34,700 under uvicorn).

UAI's start command names `httpserver.wsgi`; this worker serves the same Django project
through its ASGI handler whatever module the command line names. Every connection is served
by `httpserver.protocol.GuardedHttpProtocol` (the limits against hostile and slow clients),
with this worker's knobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import resource
import signal
import time
from typing import TYPE_CHECKING

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from httpserver import supervision
from httpserver.config import ServerSettings, load_settings

log = logging.getLogger("httpserver.workers")

if TYPE_CHECKING:
    from httpserver.protocol import GuardedHttpProtocol

#: File descriptors kept free of connections: the model's files, logs, the listening socket,
#: and the connections being answered 503 while they are over the limit.
FD_RESERVE = 64


class ServiceWorker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": "httptools",  # with the limits: init_process puts httpserver.protocol's class here
        "ws": "none",  # never upgraded: Upgrade requests are served as plain HTTP
        "interface": "asgi3",
        "lifespan": "off",  # Django has no lifespan; the runtime boots on import
        "access_log": False,  # the server writes its own line, with the batch size
        "server_header": False,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # In-flight requests get the grace period, then the worker stops (SIGTERM).
        self.drain_s, self.config.timeout_graceful_shutdown = stop_budgets(self.cfg.graceful_timeout)
        self.settings = load_settings()
        self.config.timeout_keep_alive = self.settings.keepalive_timeout_s
        self._server: Server | None = None  # uvicorn's, once serving (its heartbeat clock)
        self._core_limit: tuple[int, int] | None = None  # while the heartbeat is withheld

    def init_signals(self) -> None:
        """uvicorn handles SIGTERM/SIGINT while it serves, then raises the signal again once it
        has drained; exit cleanly then (and before it serves), so gunicorn's `worker_exit`
        hook and the log flush run and the master does not report a killed worker."""
        super().init_signals()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _exit_cleanly)
        # After the signals: uvicorn's reset puts SIGABRT (the master's timeout kill) back to
        # its default, which would otherwise undo faulthandler's for that signal.
        supervision.start_worker()  # faulthandler, and the flight record the master reads if we die

    def init_process(self) -> None:
        # `--reload`: gunicorn's reloader notes a file's time at its first scan, which runs
        # after the app has loaded (a second or so with Django and numpy); an edit made in
        # between was never reloaded. Note the extra files (code/*.py, see invoke serve) now.
        watched = self.cfg.reload_extra_files if self.cfg.reload else []
        self._watched = {path: _mtime(path) for path in watched}
        self.config.http = guarded_protocol(self.settings, self.log)
        super().init_process()

    async def callback_notify(self) -> None:
        """The heartbeat to gunicorn's master, withheld while the process is not alive (an
        execute stalled): past gunicorn's `timeout` the master aborts the worker (faulthandler
        writes where every thread was) and starts a new one. With several workers the probes
        reach any one of them, so this is what restarts the stuck one."""
        from httpserver import runtime

        current = runtime.installed()
        status = current.status if current is not None else None
        if current is not None and not current.alive_when(status):  # one reading, as the probes
            self.withhold_heartbeat(status)
            return
        if self._core_limit is not None:  # alive again: the beats, and core files, as before
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_CORE, self._core_limit)
            self._core_limit = None
        self.notify()

    def withhold_heartbeat(self, status: str) -> None:
        """No beat, and a look again at the next tick: uvicorn asks every `timeout / 2` s, so a
        beat withheld once would miss the master's deadline however soon execute returned.
        The first time: one line, and no core file from the master's SIGABRT (a stalled
        model's memory, gigabytes perhaps, written wherever the host's core_pattern says)."""
        self._server.last_notified = 0.0
        if self._core_limit is None:
            self._core_limit = resource.getrlimit(resource.RLIMIT_CORE)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_CORE, (0, self._core_limit[1]))
            log.error(
                "heartbeat withheld (%s): the master restarts this worker within %g s unless it "
                "recovers first (gunicorn's timeout)",
                status,
                self.cfg.timeout,
            )

    def load_wsgi(self) -> None:
        from httpserver.asgi import application

        self.wsgi = application

    async def _serve(self) -> None:
        """Serve, and stop like the other workers when gunicorn clears `alive` (`--reload`)."""
        self.config.app = self.wsgi
        server = self._server = DrainingServer(config=self.config)
        server.drain_s = self.drain_s
        from httpserver import metrics  # here, in the worker: the master need not load prometheus-client

        metrics.open_connections = lambda: len(server.server_state.connections)
        self._install_sigquit_handler()
        watcher = asyncio.create_task(self._watch_alive(server))
        try:
            # The plain sockets: uvloop detaches those when it stops, where it closes gunicorn's
            # wrappers a second time and logs "Error while closing socket [Errno 9]".
            await server.serve(sockets=[listener.sock for listener in self.sockets])
        finally:
            watcher.cancel()
        if not server.started:
            raise SystemExit(Arbiter.WORKER_BOOT_ERROR)

    async def _watch_alive(self, server: Server) -> None:
        while self.alive:
            await asyncio.sleep(0.2)
            for path, seen in self._watched.items():
                if _mtime(path) != seen:
                    self.log.info("Worker reloading: %s modified", path)
                    self.alive = False
                    break
        server.should_exit = True


def stop_budgets(graceful_timeout: float) -> tuple[float, float]:
    """(drain, answer): on SIGTERM the batching loop runs what is queued for `drain` seconds,
    then answers what is left 503; uvicorn waits `answer` seconds for the answers to go out,
    then cuts off what is still running. Both end before gunicorn's master kills the worker
    (at `graceful_timeout`), so a request it accepted gets an answer rather than a closed
    connection."""
    margin = min(1.5, 0.2 * graceful_timeout)
    return graceful_timeout - margin, graceful_timeout - margin / 2


class DrainingServer(Server):
    """uvicorn's server: on a stop, the batching loop drains alongside (`stop_budgets`), and the
    log says what the stop had to finish and whether it did."""

    drain_s: float | None = None

    async def shutdown(self, sockets=None) -> None:
        """uvicorn's shutdown with the batching loop's drain in a thread alongside, logged."""
        from httpserver import runtime

        started, current = time.monotonic(), runtime.installed()
        in_flight = len(self.server_state.tasks)
        log.info(
            "stopping: %d requests in flight (%d queued for the model), %d connections open; "
            "%g s to run them, then what is left is answered 503",
            in_flight,
            current.batcher.depth if current is not None else 0,
            len(self.server_state.connections),
            self.drain_s or self.config.timeout_graceful_shutdown,
        )
        drained = None
        if current is not None and self.drain_s is not None:
            # In a thread: the requests being drained need this event loop to be answered.
            drained = asyncio.get_running_loop().run_in_executor(None, current.stop, self.drain_s)
        await super().shutdown(sockets)
        if drained is not None:
            await drained
        left, seconds = len(self.server_state.tasks), time.monotonic() - started
        if left:  # cancelled by uvicorn past the grace period; ServiceHandler answers them 503
            log.error(
                "stopped after %.2f s: %d requests still running past the grace period, answered 503",
                seconds,
                left,
            )
        else:
            log.info("stopped in %.2f s: all %d requests in flight answered", seconds, in_flight)


def guarded_protocol(settings: ServerSettings, log) -> type[GuardedHttpProtocol]:
    """The protocol class with this worker's limits, its connection limit kept below the
    file-descriptor limit (raised to the hard limit first) so that a connection over the
    limit can still be accepted and answered 503."""
    # Imported here, in the worker: the master imports this module, and the protocol imports
    # Django (its errors), which the master has no use for (and took 0.3 s to import).
    from httpserver.protocol import GuardedHttpProtocol

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # keep the soft limit we were given
    room = soft if soft != resource.RLIM_INFINITY else 2**20
    # Connections over the limit are answered before they close: leave room for as many again.
    most = max(1, (room - FD_RESERVE) // 2)
    if settings.max_connections > most:
        log.warning(
            "server.max_connections = %d lowered to %d: the process may open %d files",
            settings.max_connections,
            most,
            soft,
        )
        settings = dataclasses.replace(settings, max_connections=most)
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"settings": settings})


def _exit_cleanly(signum, frame) -> None:
    raise SystemExit(0)


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
