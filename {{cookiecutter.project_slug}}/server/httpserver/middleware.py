"""One access-log line and the request metrics for every request, whatever its route or status."""

from __future__ import annotations

import logging
import time

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


class AccessLogMiddleware:
    """Logs `METHOD /path STATUS 1.23ms batch=N` (batch `-` when no batch ran)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        status = response.status_code
        if not response.streaming and not response.has_header("Content-Length"):
            # Without it gunicorn sends chunked bodies: extra bytes and work on every answer.
            response["Content-Length"] = str(len(response.content))
        method, path, batch = request.method, request.path, getattr(request, "uai_batch_size", None) or "-"
        handler = fast_access_handler()
        if handler is not None:
            handler.emit_line(time.time(), f"{method} {path} {status} {seconds * 1000:.2f}ms batch={batch}")
        else:
            access_log.info("%s %s %d %.2fms batch=%s", method, path, status, seconds * 1000, batch)
        current = runtime._current
        if current is not None:
            current.metrics.observe_request(request.path, status, seconds)
        return response
