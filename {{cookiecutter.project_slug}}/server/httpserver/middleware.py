"""One access-log line and the request metrics for every request, whatever its route or status."""

from __future__ import annotations

import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from httpserver import runtime
from httpserver.logs import AccessFormatter, BufferedStreamHandler

access_log = logging.getLogger("httpserver.access")


def fast_access_handler() -> BufferedStreamHandler | None:
    """The access log's handler when the logger is set up as shipped (then lines skip the
    `LogRecord`, see `httpserver.logs`); None when anything else listens or filters."""
    logger = access_log
    if logger.propagate or logger.filters or len(logger.handlers) != 1:
        return None
    if not logger.isEnabledFor(logging.INFO):
        return None
    handler = logger.handlers[0]
    if (
        type(handler) is BufferedStreamHandler
        and type(handler.formatter) is AccessFormatter
        and not handler.filters
        and handler.level <= logging.INFO
    ):
        return handler
    return None


def record(method: str, path: str, status: int, seconds: float, batch: int | None = None) -> None:
    """The access line and the request metrics of one answered request."""
    handler = fast_access_handler()
    batch_text = batch or "-"
    if handler is not None:
        handler.emit_line(time.time(), f"{method} {path} {status} {seconds * 1000:.2f}ms batch={batch_text}")
    else:
        access_log.info("%s %s %d %.2fms batch=%s", method, path, status, seconds * 1000, batch_text)
    current = runtime._current
    if current is not None:
        current.metrics.observe_request(path, status, seconds)


class AccessLogMiddleware:
    """Logs `METHOD /path STATUS 1.23ms batch=N` (batch `-` when no batch ran); async under
    ASGI (no thread hop), sync under WSGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        return self._finish(request, self.get_response(request), started)

    async def _acall(self, request):
        started = time.perf_counter()
        return self._finish(request, await self.get_response(request), started)

    @staticmethod
    def _finish(request, response, started: float):
        seconds = time.perf_counter() - started
        if not response.streaming and not response.has_header("Content-Length"):
            # Without it the server sends a chunked body: extra bytes and work on every answer.
            response["Content-Length"] = str(len(response.content))
        batch = getattr(request, "uai_batch_size", None)
        record(request.method, request.path, response.status_code, seconds, batch)
        return response
