"""A logging handler for the access log that never writes where requests are served.

One line per request is the rule, but a write syscall per line, under the handler's lock,
cost a quarter of the echo throughput (measured with gunicorn's request threads; on the
event loop each write would block the loop). `BufferedStreamHandler` formats the line,
appends it to a deque and lets one daemon thread write what gathered every
`interval` seconds in one call. `flush()` (run by `logging.shutdown` at exit) writes the
rest, so no line is lost on a clean exit; a line may appear up to `interval` late.

The access line (`httpserver.access`) goes one step further when the access logger is set up as shipped
(this handler with an `AccessFormatter`, nothing else): it hands over `(time, message)`
with `emit_line`, skipping the `LogRecord` (caller lookup, thread and process names) and
the per-line formatting; the writer thread formats the lines, with the time string built
once per second. The output is the same line. Measured: logging was about a tenth of an
echo request's time in the server process, most of it in `Logger.info`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections import deque


class AccessFormatter(logging.Formatter):
    """`%(asctime)s [%(process)d] access: %(message)s`, also for lines given as (time, message)."""

    def __init__(self, fmt: str = "%(asctime)s [%(process)d] access: %(message)s", **kwargs):
        super().__init__(fmt, **kwargs)
        self._second = -1
        self._stamp = ""

    def format_line(self, created: float, message: str) -> str:
        """The same text `format` gives a record created at `created` with this message."""
        second = int(created)
        if second != self._second:
            stamp = time.strftime(self.default_time_format, self.converter(created))
            self._second, self._stamp = second, stamp
        return f"{self._stamp},{int((created - second) * 1000):03d} [{os.getpid()}] access: {message}"


class BufferedStreamHandler(logging.Handler):
    """Like `logging.StreamHandler(sys.stderr)`, with the writes batched by a daemon thread."""

    def __init__(self, stream=None, interval: float = 0.05):
        super().__init__()
        self.stream = stream
        self.interval = interval
        self._lines: deque[str] = deque()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="uai-access-log", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def emit_line(self, created: float, message: str) -> None:
        """Queue one line for an `AccessFormatter`, formatted later by the writer thread."""
        self._lines.append((created, message))

    def flush(self) -> None:
        with self._write_lock:
            lines = self._lines
            chunk = []
            format_line = getattr(self.formatter, "format_line", None)
            while lines:
                line = lines.popleft()
                if isinstance(line, tuple):
                    line = format_line(*line) + "\n" if format_line else f"{line[1]}\n"
                chunk.append(line)
            if chunk:
                stream = self.stream or sys.stderr  # resolved late: tests and gunicorn swap stderr
                stream.write("".join(chunk))
                stream.flush()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            with contextlib.suppress(Exception):  # a closed stream at exit: nothing useful to do
                self.flush()


class RefusalSummary:
    """Overload in one line per `interval` seconds instead of a line per refused request.

    The server's own 503s and 504s (queue full, timed out, shutting down) are answers, not
    faults: each has its access line, and Django's `django.request` ERROR line for each
    (3,364 in 20 s of overload) buried the real errors. `count` adds one to the window; a
    daemon thread, started by the first refusal, logs `overload: refused ... in the last 10 s`
    once per window that had any, and `flush` logs what is left (a worker's exit).
    """

    def __init__(self, interval: float = 10.0, logger: logging.Logger | None = None):
        self.interval = interval
        self.log = logger or logging.getLogger("httpserver.overload")
        self._counts: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()
        self._since = time.monotonic()
        self._thread: threading.Thread | None = None

    def count(self, status: int, code: str) -> None:
        """One refused request (its status and error code) in the current window."""
        key = (status, code)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._thread is None:
                self._since = time.monotonic()
                self._thread = threading.Thread(target=self._run, name="uai-overload-log", daemon=True)
                self._thread.start()

    def flush(self) -> str | None:
        """Log the window's counts (if any) and start a new window; the line logged."""
        with self._lock:
            counts, self._counts = self._counts, {}
            since, self._since = self._since, time.monotonic()
        if not counts:
            return None
        parts = [f"{n} requests {status} ({code})" for (status, code), n in sorted(counts.items())]
        line = f"overload: refused {' and '.join(parts)} in the last {time.monotonic() - since:.0f} s"
        self.log.warning(line)
        return line

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with contextlib.suppress(Exception):
                self.flush()


#: Refusals that are state, not overload: logged once where the state changes (the model load).
NOT_OVERLOAD = frozenset({"not_ready", "model_failed"})
refusals = RefusalSummary()


def answered_error(status: int, code: str) -> None:
    """An error response the server made on purpose: counted in the overload summary if it
    says "busy" (503) or "too late" (504)."""
    if status in (503, 504) and code not in NOT_OVERLOAD:
        refusals.count(status, code)
