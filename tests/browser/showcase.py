"""The model behind the browser tests (copied into a project's code/): one of every kind of answer.

JSON `{"answer": kind}` gets that kind (a PNG, bytes, HTML, SVG, text holding markup, a long
text, an error of the server's shape); `{"sleep": s}` waits s seconds; any other JSON is
echoed; any other body is described by its size and content type. Loading takes
SHOWCASE_LOAD_SECONDS, so the page sees the model load.
"""

import json
import os
import struct
import time
import zlib

HTML = "<h1 id=injected>hi</h1><script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'>"
SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' onload='window.pwned = 3'>"
    "<script>window.pwned = 4</script></svg>"
)


def png(width: int, height: int) -> bytes:
    """A real PNG: a red and blue checkerboard."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((255, 0, 0) if (x + y) % 2 else (0, 0, 255)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


BUSY = json.dumps({"error": "busy", "message": "try later"})
ANSWERS = {
    "png": lambda: (png(12, 8), 200, {"Content-Type": "image/png"}),
    "bytes": lambda: bytes(range(256)) * 5,
    "html": lambda: (HTML, 200, {"Content-Type": "text/html; charset=utf-8"}),
    "svg": lambda: (SVG, 200, {"Content-Type": "image/svg+xml"}),
    "markup": lambda: HTML,
    "long": lambda: "0123456789" * 20000,
    "busy": lambda: (BUSY, 503, {"Content-Type": "application/json", "Retry-After": "7"}),
}


class Showcase:
    def __init__(self, conf):
        time.sleep(float(os.environ.get("SHOWCASE_LOAD_SECONDS", "0")))

    def execute(self, data, batch_size):
        return [self.answer(item) for item in data]

    def answer(self, item):
        if item.content_type != "application/json":
            return {"bytes": len(item.body), "content_type": item.content_type}
        request = json.loads(item.body)
        if isinstance(request, dict) and request.get("answer") in ANSWERS:
            return ANSWERS[request["answer"]]()
        if isinstance(request, dict) and "sleep" in request:
            time.sleep(request["sleep"])
        return {"echo": request}
