"""The HTTP views. Errors are raised as `ServiceError`s and answered as JSON by `endpoint`."""

from __future__ import annotations

import asyncio
import functools
import json
import logging

from django.http import HttpRequest, HttpResponse

from httpserver import metrics as metrics_module
from httpserver import runtime
from httpserver.arrival import ticket_of
from httpserver.errors import (
    BadResult,
    MethodNotAllowed,
    ModelFailed,
    NotFound,
    NotReady,
    ServiceError,
    ShuttingDown,
    Stalled,
    error_response,
)
from httpserver.inputs import RequestInput, read_wsgi_body
from httpserver.loading import FAILED, READY
from httpserver.results import to_response

log = logging.getLogger("httpserver.views")


def endpoint(*methods: str):
    """Allow only `methods` (HEAD rides with GET) and answer any ServiceError as JSON."""
    allowed = tuple(methods) + (("HEAD",) if "GET" in methods else ())

    def decorate(view):
        @functools.wraps(view)
        async def wrapper(request: HttpRequest) -> HttpResponse:
            try:
                if request.method not in allowed:
                    raise MethodNotAllowed(allowed)
                return await view(request)
            except ServiceError as error:
                return error_response(error)

        wrapper.methods = allowed  # httpserver.openapi documents them
        return wrapper

    return decorate


@endpoint("POST")
async def service(request: HttpRequest) -> HttpResponse:
    """One request body in, its own answer out, via the batching loop."""
    current = runtime.current()
    # Opened by httpserver.handler when the body started to arrive; it withdraws the
    # announcement itself if this view never submits (a refusal, a model still loading).
    ticket = ticket_of(request, current.batcher)
    if not current.model.ready:
        raise ModelFailed() if current.model.status == FAILED else NotReady()
    meta = request.META
    item = RequestInput(
        read_body(request, current.settings.max_body_bytes), meta.get("CONTENT_TYPE", ""), meta
    )
    job = ticket.submit(item, asyncio.get_running_loop())
    try:
        result = await current.batcher.wait_async(job, current.settings.request_timeout_s)
    finally:
        ticket.batch_size = job.batch_size or None
    try:
        return to_response(result)
    except BadResult as error:
        log.error("POST /service: %s", error)
        raise


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, at most `limit` bytes (413 beyond): under ASGI `httpserver.handler` bounded
    it as it arrived; under WSGI it is bounded here, before it is read (`httpserver.inputs`)."""
    if "wsgi.input" not in request.META:
        return request.body
    return read_wsgi_body(request.META, lambda: request.body, limit)


@endpoint("GET")
async def initialized(request: HttpRequest) -> HttpResponse:
    """UAI's probe: YES once the model is loaded and serving, NO before (and after a failed
    load, and while an execute is stalled)."""
    current = runtime.installed()
    ready = current is not None and current.ready
    return HttpResponse("YES" if ready else "NO", content_type="text/plain; charset=utf-8")


@endpoint("GET")
async def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: 200 while the process serves; 503 while an execute is stalled past
    `execute_timeout_s` (or the batching loop has died), so that it is restarted."""
    current = runtime.installed()
    status = current.status if current is not None else "loading"
    if current is None or current.alive_when(status):
        return _json({"status": "alive"})
    return _probe_error(current, status)


@endpoint("GET")
async def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 once the model is loaded and the batching loop serves, else 503 with
    the status (loading, failed, stalled, stopping)."""
    current = runtime.installed()
    status = current.status if current is not None else "loading"
    if status == READY:
        return _json({"status": "ready"})
    return _probe_error(current, status)


def _probe_error(current: runtime.Runtime | None, status: str) -> HttpResponse:
    """The 503 of a probe: the error of the runtime's `status`, with `status` in the body."""
    if status == FAILED:
        error = ModelFailed()
    elif status == runtime.STALLED:
        error = Stalled(current.batcher.stalled() or 0.0, current.batcher.execute_timeout)
    elif status == runtime.STOPPING:
        error = ShuttingDown()
    else:
        error = NotReady()
    return error_response(error, refusal=False, status=status)  # a probe's: not in the overload summary


@endpoint("GET")
async def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format."""
    return HttpResponse(runtime.current().metrics.render(), content_type=metrics_module.CONTENT_TYPE)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(NotFound())


def server_error(request: HttpRequest) -> HttpResponse:
    """Anything not mapped to a ServiceError; Django has logged the traceback."""
    return error_response(ServiceError())


def _json(payload: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(payload), status=status, content_type="application/json")
