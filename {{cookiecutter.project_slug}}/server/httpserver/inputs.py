"""The request body: the one rule that bounds it, its two readers, and `RequestInput`, the body
as the user's `execute` sees it.

The body limit (`server.max_body_bytes`) is decided by `check_body_size` alone: a
Content-Length over the limit is refused before a byte of the body is read, a body without
one as soon as what arrived passes the limit, so an oversized body is never buffered. The
ASGI reader (`read_asgi_body`, what the image serves) and the WSGI one (`read_wsgi_body`,
other WSGI servers and Django's test client) both ask it.

`RequestInput` is a `BytesIO`, so anything that reads files works on it (`Image.open(data[i])`,
`np.load(data[i])`, `data[i].read()`), and it also carries the raw bytes as `.body`,
the `content_type`, and the request `headers` (a case-insensitive mapping).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Mapping

from django.core.exceptions import RequestAborted
from django.http.request import HttpHeaders

from httpserver.errors import BadRequest, PayloadTooLarge


def check_body_size(limit: int, declared: str | bytes | None = None, received: int = 0) -> None:
    """Refuse a body over `limit` bytes (413), by its Content-Length (`declared`, 400 when not a
    number) or by the bytes `received` so far."""
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest("the Content-Length header is not a number") from None
        if size > limit:
            raise PayloadTooLarge(limit)
    if received > limit:
        raise PayloadTooLarge(limit)


async def read_asgi_body(scope: dict, receive: Callable[[], Awaitable[dict]], limit: int) -> bytes:
    """The whole body of an ASGI request, refused as soon as it is known to pass `limit`; raises
    RequestAborted when the client leaves first."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            check_body_size(limit, declared=value)
            break
    chunks, received = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        chunk = message.get("body", b"")
        if chunk:
            received += len(chunk)
            check_body_size(limit, received=received)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_wsgi_body(meta: Mapping, read_all: Callable[[], bytes], limit: int) -> bytes:
    """The body of a WSGI request (`read_all`: Django's `request.body`), checked before it is read
    when its length is declared; a chunked one is read at most one byte past `limit`."""
    length = meta.get("CONTENT_LENGTH")
    if length:
        check_body_size(limit, declared=length)
    elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = meta["wsgi.input"].read(limit + 1)
        check_body_size(limit, received=len(body))
        return body
    return read_all()


class RequestInput(io.BytesIO):
    """A readable, seekable request body with `.body`, `.content_type` and `.headers`."""

    def __init__(self, body: bytes, content_type: str = "", meta: Mapping[str, str] | None = None):
        super().__init__(body)
        self.body = body
        self.content_type = content_type
        self._meta = meta or {}
        self._headers: HttpHeaders | None = None

    @property
    def headers(self) -> HttpHeaders:
        """The request headers, case-insensitive (`data[i].headers["X-Request-Id"]`)."""
        if self._headers is None:  # built on first use: most models never look
            self._headers = HttpHeaders(self._meta)
        return self._headers

    @property
    def request_id(self) -> str | None:
        """The X-Request-Id header (at most 64 characters), or None: how logs name the request.
        Read from the environment as is, so naming a batch builds no `headers` mapping."""
        value = self._meta.get("HTTP_X_REQUEST_ID")
        return value[:64] if value else None

    @property
    def client(self) -> str | None:
        """The client's `address:port`, when the server knows it."""
        address = self._meta.get("REMOTE_ADDR")
        return f"{address}:{self._meta.get('REMOTE_PORT', '?')}" if address else None

    def __repr__(self) -> str:
        return f"RequestInput({len(self.body)} bytes, {self.content_type or 'no content type'})"
