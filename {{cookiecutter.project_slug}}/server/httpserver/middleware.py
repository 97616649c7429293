"""One access-log line and the request metrics for every request, whatever its route or status."""

from __future__ import annotations

import logging
import time

from httpserver import runtime

access_log = logging.getLogger("httpserver.access")


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
        access_log.info(
            "%s %s %d %.2fms batch=%s",
            request.method,
            request.path,
            status,
            seconds * 1000,
            getattr(request, "uai_batch_size", None) or "-",
        )
        current = runtime._current
        if current is not None:
            current.metrics.observe_request(request.path, status, seconds)
        return response
