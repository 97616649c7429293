"""Turning one `execute` result into an HTTP response.

`str` -> text/plain, bytes -> application/octet-stream, dict/list/numbers/bool/None and
numpy values -> JSON, and UAI's `(body, status, headers)` tuple (or `(body, status)`)
sets the status and headers around a body converted by the same rules. Anything else
is a `BadResult`. numpy is recognised by duck typing, so it is never imported here.

Two things the result cannot do, since the answer must stay valid on the wire:
- NaN and Infinity are not JSON; they are sent as `null`, as JavaScript's `JSON.stringify`
  does, with one warning per process. The encoder refuses them in its C fast path, and only a
  result that holds one is walked again (it costs the common result nothing).
- The server owns the framing headers (`Content-Length`, `Transfer-Encoding`, `Connection`):
  one set by a result tuple would announce a body the server does not send; it is dropped,
  with one warning per process naming it. Likewise a 204 or 304 is sent without a body, and
  a status below 200 (an interim answer, not a response) is a `BadResult`.
- A content type set by the result tuple is served sandboxed (see `confine`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping

from django.http import HttpResponse

from httpserver.errors import BadResult

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
JSON = "application/json"
#: The content types the server picks itself; none of them is run by a browser.
SERVER_TYPES = frozenset({TEXT, BINARY, JSON})
#: Headers the server sets from the body it sends; a result tuple cannot override them.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
#: Statuses whose answers have no body (RFC 9110): a body given with one is not sent.
BODILESS = frozenset({204, 304})

log = logging.getLogger("httpserver.results")
_warned: set[str] = set()  # what was warned about in this process, once each


def to_response(result: object) -> HttpResponse:
    """The response for one result; raises BadResult naming what it cannot send."""
    status, headers = 200, None
    if isinstance(result, tuple):
        result, status, headers = unpack(result)
    body, content_type = encode_body(result)
    if isinstance(body, str):
        body = body.encode()
    if status in BODILESS:
        if body:
            warn_once(f"body-{status}", f"a {status} result held a body, which HTTP forbids; dropped")
        response = HttpResponse(status=status, content_type=content_type)
    else:
        # Content-Length set here: without it the server sends a chunked body.
        response = HttpResponse(
            body, status=status, content_type=content_type, headers={"Content-Length": str(len(body))}
        )
    for name, value in (headers or {}).items():
        name = str(name)
        if name.lower() in FRAMING_HEADERS:
            warn_once(name.lower(), f"a result tuple set the {name} header, which the server owns; dropped")
            continue
        try:
            response[name] = str(value)  # the user's Content-Type, if any, wins
        except ValueError as error:  # a newline in a header: Django's BadHeaderError
            raise BadResult(f"the result tuple's header {name!r} cannot be sent: {error}") from None
    if headers:
        confine(response)
    return response


def confine(response: HttpResponse) -> None:
    """A content type the result chose (HTML, SVG, XML, ...) is served under
    `Content-Security-Policy: sandbox` and nosniff: a browser opening the answer runs none of
    its scripts at this origin, where the console lives. The user's own policy wins."""
    if response["Content-Type"] in SERVER_TYPES:
        return
    response.setdefault("X-Content-Type-Options", "nosniff")
    response.setdefault("Content-Security-Policy", "sandbox")


def unpack(result: tuple) -> tuple[object, int, Mapping | None]:
    """UAI's `(body, status[, headers])`: a final status (200 to 599) and a dict of headers."""
    if len(result) not in (2, 3) or not isinstance(result[1], int) or not 200 <= result[1] <= 599:
        raise BadResult(f"a result tuple must be (body, status 200-599[, headers]), got {result!r:.80}")
    headers = result[2] if len(result) == 3 else None
    if headers is not None and not isinstance(headers, Mapping):
        raise BadResult(f"the headers of a result tuple must be a dict, got {_describe(headers)}")
    return result[0], result[1], headers


def encode_body(value: object) -> tuple[bytes | str, str]:
    """The body and its content type for one result value."""
    if isinstance(value, str):
        return value, TEXT
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), BINARY
    try:
        return _ENCODER.encode(value), JSON
    except ValueError:  # NaN or Infinity somewhere (or a circular result): the slow path
        pass
    except (TypeError, RecursionError) as error:
        raise BadResult(f"cannot send a result of type {_describe(value)}: {error}") from None
    try:
        body = _ENCODER.encode(_finite(value))
    except (TypeError, ValueError, RecursionError) as error:
        raise BadResult(f"cannot send a result of type {_describe(value)}: {error}") from None
    warn_once("nan", "a result held NaN or Infinity, which JSON cannot carry; sent as null")
    return body, JSON


def _finite(value: object) -> object:
    """`value` with every NaN and Infinity (floats, numpy values) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    return _finite(tolist()) if callable(tolist) else value


def warn_once(key: str, message: str) -> None:
    """Log `message` as a warning the first time `key` comes up in this process."""
    if key not in _warned:
        _warned.add(key)
        log.warning("%s (logged once per process)", message)


def _jsonable(value: object) -> object:
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for all responses: `json.dumps` with options builds a new one per call.
# allow_nan=False: NaN and Infinity raise (in C) instead of writing tokens JSON has not.
_ENCODER = json.JSONEncoder(default=_jsonable, separators=(",", ":"), allow_nan=False)


def _describe(value: object) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
