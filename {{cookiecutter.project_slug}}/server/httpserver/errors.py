"""The errors a client can see, and the one place they become HTTP responses.

Every failure the server answers is a `ServiceError` subclass carrying its status, a
short machine-readable code and a one-sentence message. `error_response` turns it into a
small JSON body; tracebacks go to the log only, never to the client.
"""

from __future__ import annotations

import json

from django.http import HttpResponse

from httpserver import logs


class ServiceError(Exception):
    """Base of the family: status, code, and the sentence the client reads."""

    status = 500
    code = "internal_error"
    message = "the server failed to answer this request"
    headers: dict[str, str] = {}

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message


class BadRequest(ServiceError):
    status, code, message = 400, "bad_request", "the request is malformed"


class NotFound(ServiceError):
    status, code, message = 404, "not_found", "no such path; the service answers POST /service"


class MethodNotAllowed(ServiceError):
    status, code = 405, "method_not_allowed"

    def __init__(self, allowed: tuple[str, ...]):
        super().__init__(f"use {' or '.join(allowed)} here")
        self.headers = {"Allow": ", ".join(allowed)}


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"

    def __init__(self, limit: int):
        super().__init__(f"the request body is over the limit of {limit} bytes (server.max_body_bytes)")


class OverLimit(ServiceError):
    """A request past one of the server's limits; `template` says which, with `{limit}`."""

    template = "the request is over the limit of {limit}"

    def __init__(self, limit: float):
        super().__init__(self.template.format(limit=limit))


class HeaderTimeout(OverLimit):
    """408: the client was too slow to send its request (the connection is then closed)."""

    status, code = 408, "request_timeout"
    template = "the request head did not arrive within {limit:g} s (server.header_timeout_s)"


class BodyTimeout(HeaderTimeout):
    template = "the request body stalled for {limit:g} s (server.body_timeout_s)"


class UriTooLong(OverLimit):
    status, code = 414, "uri_too_long"
    template = "the request target is over the limit of {limit} bytes (server.max_header_bytes)"


class HeaderFieldsTooLarge(OverLimit):
    status, code = 431, "headers_too_large"
    template = "the request headers are over the limit of {limit} bytes (server.max_header_bytes)"


class TooManyHeaders(OverLimit):
    status, code = 431, "too_many_headers"
    template = "the request has more than {limit} header fields (server.max_headers)"


class Unavailable(ServiceError):
    """Try again later: the client is told when in `Retry-After`."""

    status, code, headers = 503, "unavailable", {"Retry-After": "1"}


class ServerBusy(Unavailable):
    code, message = "busy", "Server is busy: the request queue is full, retry shortly"


class Overloaded(ServerBusy):
    """Admission control: the work queued ahead cannot finish within the request timeout."""

    message = (
        "Server is busy: the queued work would not finish within server.request_timeout_s; retry shortly"
    )


class TooManyConnections(Unavailable):
    code = "busy"

    def __init__(self, limit: int):
        super().__init__(f"Server is busy: {limit} connections are open (server.max_connections); retry")


class NotReady(Unavailable):
    code, message, headers = "not_ready", "the model is still loading", {"Retry-After": "5"}


class ShuttingDown(Unavailable):
    code, message = "shutting_down", "the server is shutting down"


class Stalled(Unavailable):
    """The running `execute` is past `server.execute_timeout_s`: the process says it is not alive."""

    code, headers = "stalled", {"Retry-After": "5"}
    message = (
        "the model's execute is stalled past server.execute_timeout_s; this process waits to be restarted"
    )

    def __init__(self, seconds: float, bound: float):
        super().__init__(
            f"the model's execute has run for {seconds:.0f} s, over server.execute_timeout_s = {bound:g}; "
            "this process waits to be restarted"
        )


class ModelFailed(ServiceError):
    status, code, message = 503, "model_failed", "the model failed to load; see the server log"


class RequestTimeout(ServiceError):
    status, code = 504, "timeout"

    def __init__(self, seconds: float):
        super().__init__(f"no answer within {seconds:g} s (server.request_timeout_s)")


class ExecuteFailed(ServiceError):
    code, message = "execute_failed", "the model's execute raised an error for this batch; see the server log"


class BadResult(ServiceError):
    code, message = "bad_result", "the model's execute returned a result the server cannot send; see the log"


def error_response(error: ServiceError, *, refusal: bool = True, **fields: str) -> HttpResponse:
    """A short JSON error body (with `fields` after the error's own) with the error's status and
    headers; a `refusal` (a request the server turned away, not a probe's answer) counts in the
    overload summary."""
    body = json.dumps({"error": error.code, "message": error.message, **fields})
    response = HttpResponse(body, status=error.status, content_type="application/json")
    for name, value in error.headers.items():
        response[name] = value
    # An answer made on purpose is not a fault: Django's `django.request` logger skips it (one
    # ERROR line per 503 buried the real errors). Faults are logged once where they happen
    # (execute raised, a bad result); the base class is what `server_error` answers for an
    # unexpected exception, whose traceback Django logs.
    response._has_been_logged = type(error) is not ServiceError
    if refusal:
        logs.answered_error(error.status, error.code)
    return response
