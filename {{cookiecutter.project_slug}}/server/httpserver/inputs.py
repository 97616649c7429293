"""`RequestInput`: one HTTP request body as the user's `execute` sees it; and the check of a
declared body size against the limit, shared by the ASGI handler and the WSGI view path.

It is a `BytesIO`, so anything that reads files works on it (`Image.open(data[i])`,
`np.load(data[i])`, `data[i].read()`), and it also carries the raw bytes as `.body`,
the `content_type`, and the request `headers` (a case-insensitive mapping).
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from django.http.request import HttpHeaders

from httpserver.errors import BadRequest, PayloadTooLarge


def check_declared_length(value: str | bytes, limit: int) -> None:
    """Refuse a Content-Length over `limit` (413) or not a number (400), before the body is read."""
    try:
        size = int(value)
    except ValueError:
        raise BadRequest("the Content-Length header is not a number") from None
    if size > limit:
        raise PayloadTooLarge(limit)


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

    def __repr__(self) -> str:
        return f"RequestInput({len(self.body)} bytes, {self.content_type or 'no content type'})"
