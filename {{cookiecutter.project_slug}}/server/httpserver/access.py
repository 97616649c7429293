"""The access line and the request metrics: written once per request, by `ServiceHandler`.

The handler is the one place every request passes, refused or served, whatever its route or
status (a body over the limit is answered before Django sees a request), so it is the one
place that calls `record`, after the answer is sent. A request served another way (a WSGI
server of your own, Django's test client) is logged by that server, not here.
"""

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


def record(method: str, path: str, status: int, seconds: float, batch: int | None = None) -> None:
    """`METHOD /path STATUS 1.23ms batch=N` (batch `-` when no batch ran) and the request metrics
    of one answered request."""
    handler = fast_access_handler()
    batch_text = batch or "-"
    if handler is not None:
        handler.emit_line(time.time(), f"{method} {path} {status} {seconds * 1000:.2f}ms batch={batch_text}")
    else:
        access_log.info("%s %s %d %.2fms batch=%s", method, path, status, seconds * 1000, batch_text)
    current = runtime.installed()
    if current is not None:
        current.metrics.observe_request(path, status, seconds)
