"""Turning one `execute` result into an HTTP response.

`str` -> text/plain, bytes -> application/octet-stream, dict/list/numbers/bool/None and
numpy values -> JSON, and UAI's `(body, status, headers)` tuple (or `(body, status)`)
sets the status and headers around a body converted by the same rules. Anything else
is a `BadResult`. numpy is recognised by duck typing, so it is never imported here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.http import HttpResponse

from httpserver.errors import BadResult

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
JSON = "application/json"


def to_response(result: object) -> HttpResponse:
    """The response for one result; raises BadResult naming what it cannot send."""
    status, headers = 200, None
    if isinstance(result, tuple):
        if len(result) not in (2, 3) or not isinstance(result[1], int) or not 100 <= result[1] <= 599:
            raise BadResult(f"a result tuple must be (body, status[, headers]), got {result!r:.80}")
        result, status, headers = result[0], result[1], (result[2] if len(result) == 3 else None)
        if headers is not None and not isinstance(headers, Mapping):
            raise BadResult(f"the headers of a result tuple must be a dict, got {_describe(headers)}")
    body, content_type = encode_body(result)
    if isinstance(body, str):
        body = body.encode()
    # Content-Length set here: without it gunicorn sends a chunked body (see middleware).
    response = HttpResponse(
        body, status=status, content_type=content_type, headers={"Content-Length": str(len(body))}
    )
    for name, value in (headers or {}).items():
        response[str(name)] = str(value)  # the user's Content-Type, if any, wins
    return response


def encode_body(value: object) -> tuple[bytes | str, str]:
    """The body and its content type for one result value."""
    if isinstance(value, str):
        return value, TEXT
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), BINARY
    try:
        return _ENCODER.encode(value), JSON
    except (TypeError, ValueError) as error:
        raise BadResult(f"cannot send a result of type {_describe(value)}: {error}") from None


def _jsonable(value: object) -> object:
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for all responses: `json.dumps` with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=_jsonable, separators=(",", ":"))


def _describe(value: object) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
