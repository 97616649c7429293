"""`GuardedHttpProtocol`: uvicorn's httptools protocol with the limits that hostile and slow
clients meet; `httpserver.workers.ServiceWorker` serves every connection with it.

What uvicorn's protocol lacks, and this subclass adds (each a knob of `ServerSettings`):

- Head limits: the request line and headers together at most `max_header_bytes`, at most
  `max_headers` fields; beyond, 414 (a long target) or 431, before the head is buffered whole.
- Timeouts: a connection that sends nothing is closed after `keepalive_timeout_s` (as between
  requests); a head must arrive within `header_timeout_s` (slowloris), a body may pause at most
  `body_timeout_s`; both answer 408. An answer the client does not read (the transport's
  buffer and the kernel's send queue not shrinking) for `send_timeout_s` has its connection
  reset (a slow-read client held the connection and the answer in memory for as long as it
  stayed connected).
- A connection limit that answers: past `max_connections` a new connection is answered 503 with
  `Retry-After` and closed, instead of the process running out of file descriptors and the
  kernel resetting new clients.
- Lingering close: an answer sent before its request's body arrived (a 413, a refusal) closes
  the connection the way nginx does: shut the write side, read and drop what the client still
  sends (bounded in time), then close. A client that writes its whole body before it reads
  (urllib, `http.client` with `Connection: close`) then reads the answer instead of a reset.
- `Upgrade` is never honoured (this server speaks HTTP/1.1 only): the request is served as if
  the header were absent, body included. httptools stops parsing at the end of such a head and
  drops the body (uvicorn#2722, httptools#124), so the head is parsed again without it.

Malformed requests, refusals and ignored upgrades are counted in /metrics; a refusal logs one
line, at most one per kind every `LOG_INTERVAL_S` (with the count of those it did not log).
On the common path (a whole request in one read) the added work is a few attribute updates
per request (measured: about 1 to 2 us, `bench/http_costs.py`); no timer is armed unless a
head or a body spans several reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import socket
import struct
import termios
import time
from http import HTTPStatus

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from httpserver import metrics
from httpserver.config import ServerSettings
from httpserver.errors import (
    BadRequest,
    BodyTimeout,
    HeaderFieldsTooLarge,
    HeaderTimeout,
    ServiceError,
    TooManyConnections,
    TooManyHeaders,
    UriTooLong,
)

log = logging.getLogger("httpserver.protocol")

#: Lingering close, as nginx's `lingering_time` and `lingering_timeout`: how long in all, and
#: how long without a byte, the server keeps reading (and dropping) after its last answer.
LINGER_S = 30.0
LINGER_SILENCE_S = 5.0
#: A connection over the limit gets its 503 and only this long to read it.
REFUSED_LINGER_S = 1.0
#: At most one log line per kind of refusal in this many seconds.
LOG_INTERVAL_S = 10.0


class Refused(Exception):
    """Raised inside a parser callback to refuse the request; `data_received` answers `error`."""

    def __init__(self, error: ServiceError):
        super().__init__(error.message)
        self.error = error


class RateLimitedLog:
    """One warning per kind per `interval` seconds, each saying how many went unlogged."""

    def __init__(self, logger: logging.Logger, interval: float = LOG_INTERVAL_S):
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def hit(self, kind: str, message: str) -> bool:
        """Log `message` unless a line of this kind was logged less than `interval` ago."""
        now = time.monotonic()
        if now - self._last.get(kind, -self.interval) < self.interval:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return False
        unlogged = self._unlogged.pop(kind, 0)
        suffix = f" ({unlogged} more since the last such line)" if unlogged else ""
        self.logger.warning("%s%s", message, suffix)
        self._last[kind] = now
        return True


refusal_log = RateLimitedLog(log)


def raw_response(error: ServiceError) -> bytes:
    """`error` as the server's JSON error, framed by hand (no request cycle exists for it)."""
    body = json.dumps({"error": error.code, "message": error.message}).encode()
    lines = [f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}", "content-type: application/json"]
    lines += [f"{name.lower()}: {value}" for name, value in error.headers.items()]
    lines += [f"content-length: {len(body)}", "connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def unsent_bytes(transport) -> int:
    """The bytes of its answers a client has not taken yet: the transport's buffer plus the
    kernel's send queue (Linux's SIOCOUTQ). A client that reads drains the kernel's queue
    first; the transport's buffer moves only once the kernel wants more, which can take
    longer than `send_timeout_s` with megabytes in the socket buffers."""
    size = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError, ValueError):
        size += struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    return size


class CycleTransport:
    """What a request cycle writes to: the connection's transport, except that `close` while
    the request body is still arriving becomes the protocol's lingering close."""

    __slots__ = ("write", "is_closing", "_protocol")

    def __init__(self, transport, protocol: GuardedHttpProtocol):
        self.write = transport.write  # bound methods: no extra call on the hot path
        self.is_closing = transport.is_closing
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_after_answer()


class GuardedHttpProtocol(HttpToolsProtocol):
    """See the module docstring; `settings` carries the limits (the worker sets them)."""

    settings = ServerSettings()
    # Slots, not instance attributes: uvicorn's protocol has 28, and past 30 CPython stops
    # sharing the instance dict's keys and every attribute access slows down (measured: 1.5 us
    # a request for 14 more attributes).
    __slots__ = (
        "max_connections",
        "max_header_bytes",
        "max_headers",
        "cycle_transport",
        "read_size",
        "head_done",
        "head_watched",
        "head_spill",
        "in_body",
        "keep_alive_after_body",
        "upgrade_head",
        "timer",
        "body_seen",
        "lingering",
        "linger_until",
        "linger_bytes",
        "send_timer",
        "send_unsent",
        "running_cycle",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = self.settings
        self.max_connections = settings.max_connections
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.read_size = 0  # of the read being parsed
        # A head is told by its scope (uvicorn makes one per request when the head begins):
        self.head_done = None  # the scope of the last complete head
        self.head_watched = None  # the scope of a head that spans reads
        self.head_spill = 0  # the bytes of that head's reads after its first
        self.in_body = False  # a head is complete and its body is not
        self.keep_alive_after_body = True
        self.upgrade_head: bytes | None = None
        self.timer = None  # the one head/body/linger deadline of this connection
        self.body_seen = 0.0
        self.lingering = False
        self.linger_until = 0.0
        self.linger_bytes = 0
        self.send_timer = None  # armed while unsent bytes wait for the client (`watch_send`)
        self.send_unsent = 0  # `unsent_bytes` when last checked
        self.running_cycle = None  # the cycle whose app runs (`self.cycle` is the last one parsed)

    # -- connection ------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.cycle_transport = CycleTransport(transport, self)
        open_now = len(self.connections)
        if open_now > 2 * self.max_connections:  # no room left even to answer (see workers.py)
            metrics.observe_http_event("refused_connection_limit")
            transport.abort()
            return
        if open_now > self.max_connections:
            self.refuse(TooManyConnections(self.max_connections), "connection_limit", REFUSED_LINGER_S)
            return
        # uvicorn arms its keep-alive timer only after a response: a silent new connection
        # would stay open for ever.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_timer()
        if self.send_timer is not None:
            self.send_timer.cancel()
            self.send_timer = None
        # uvicorn tells only the last cycle parsed: with pipelined requests the one answering
        # went on writing to the closed transport (a traceback per connection) and the queued
        # ones kept their bodies until a full garbage collection.
        for cycle in (self.running_cycle, *(cycle for cycle, _ in self.pipeline)):
            if cycle is not None and cycle is not self.cycle and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
        self.pipeline.clear()
        super().connection_lost(exc)

    def _start_asgi_task(self, cycle, app) -> None:
        self.running_cycle = cycle
        super()._start_asgi_task(cycle, app)

    def pause_writing(self) -> None:
        """The client reads slower than its answer is written: it must read on within
        `send_timeout_s`, or its connection is reset (`check_send`)."""
        super().pause_writing()
        self.watch_send()

    def resume_writing(self) -> None:
        """The client has read enough for the transport to take more: progress (the answer
        is refilled from now on, so the unsent bytes no longer tell it)."""
        super().resume_writing()
        if self.send_timer is not None:
            self.send_timer.cancel()
            self.send_timer = None

    def on_response_complete(self) -> None:
        """An answer is written whole: what the transport still holds must go out too (below
        its high-water mark the transport never paused, and a close waits for it for ever)."""
        super().on_response_complete()
        if self.send_timer is None and self.transport.get_write_buffer_size():
            self.watch_send()

    def watch_send(self) -> None:
        """Look at the unsent bytes again in `send_timeout_s` (`check_send`)."""
        if self.send_timer is None:
            self.send_unsent = unsent_bytes(self.transport)
            self.send_timer = self.loop.call_later(self.settings.send_timeout_s, self.check_send)

    def check_send(self) -> None:
        """`send_timeout_s` after a pause or a complete answer left in the transport (nothing
        is added then, so the unsent bytes shrink only as the client reads): a client that has
        read some since the last look gets as long again; one that has read nothing is cut off
        with a reset, which frees the kernel's send queue too (a plain close keeps it,
        megabytes, until the client reads or TCP gives up)."""
        unsent = unsent_bytes(self.transport)
        timeout = self.settings.send_timeout_s
        if unsent == 0 or (self.transport.is_closing() and not self.transport.get_write_buffer_size()):
            self.send_timer = None
            return
        if unsent < self.send_unsent:
            self.send_unsent = unsent
            self.send_timer = self.loop.call_later(timeout, self.check_send)
            return
        self.send_timer = None
        metrics.observe_http_event("refused_send_timeout")
        refusal_log.hit(
            "send_timeout",
            f"closed the connection of {self.peer}: it read nothing of its answer for {timeout:g} s "
            f"({unsent} bytes unsent; server.send_timeout_s)",
        )
        self.reset()

    def reset(self) -> None:
        """Close at once with a TCP reset: the unsent bytes are dropped, in the transport and in
        the kernel (SO_LINGER 0); uvicorn wakes whatever send was waiting."""
        sock = self.transport.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError, ValueError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self.linger_bytes += len(data)
            return
        self._unset_keepalive_if_required()
        self.read_size = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.serve_upgrade_as_http(data[upgrade.args[0] :])
            return
        except httptools.HttpParserError as error:
            self.refuse_malformed(error)
            return
        if self.in_body:
            self.watch_body()
        elif self.scope is not self.head_done:  # a head has begun and is not complete
            self.watch_head()

    def shutdown(self) -> None:
        self.keep_alive_after_body = False
        super().shutdown()

    # -- parser callbacks (called by httptools for every request: keep them lean) -----------

    # on_message_begin, on_url and on_header stay uvicorn's: the head is measured after each
    # read, and once complete if it spanned reads or came in a read larger than the limit.

    def on_headers_complete(self) -> None:
        self.head_done = self.scope
        if self.timer is not None:
            self.cancel_timer()
        if len(self.headers) > self.max_headers:
            raise Refused(TooManyHeaders(self.max_headers))
        if self.head_watched is self.scope or self.read_size > self.max_header_bytes:
            self.check_head_size()
        if self.parser.should_upgrade():
            if self.parser.get_method() == b"CONNECT":
                raise Refused(BadRequest("CONNECT is not served here: this is not a proxy"))
            self.upgrade_head = self.head_without_upgrade()
            return  # no cycle: data_received parses this head again, without the upgrade
        super().on_headers_complete()
        cycle = self.cycle
        cycle.transport = self.cycle_transport
        # An answer sent before the body has arrived closes the connection (lingering):
        # told to the client with `connection: close`, undone once the body is complete.
        self.keep_alive_after_body = cycle.keep_alive
        cycle.keep_alive = False
        self.in_body = True

    def on_message_complete(self) -> None:
        if self.upgrade_head is not None:
            return
        self.in_body = False
        if self.timer is not None:
            self.cancel_timer()
        cycle = self.cycle
        if cycle.response_complete:  # an early answer: this body was read only to be dropped
            return
        if not cycle.response_started:
            cycle.keep_alive = self.keep_alive_after_body
        # uvicorn's on_message_complete (inlined: a super() call here measured 0.4 us a request)
        cycle.more_body = False
        cycle.message_event.set()

    # -- limits ----------------------------------------------------------------------------

    def watch_head(self) -> None:
        """After a read that left a head unfinished: bound its size, count and time. httptools
        holds a field until it is complete, so the size is what was read since the head's first
        read (that one may be partly the previous request's): the parser holds at most one
        read more than the limit before the head is refused."""
        if self.head_watched is self.scope:
            self.head_spill += self.read_size
        else:  # this head's first read, which may begin with the previous request
            self.head_watched, self.head_spill = self.scope, 0
        limit = self.max_header_bytes
        if len(self.url) > limit:
            self.refuse(UriTooLong(limit))
        elif len(self.headers) > self.max_headers:
            self.refuse(TooManyHeaders(self.max_headers))
        elif self.head_spill > limit:
            self.refuse(HeaderFieldsTooLarge(limit))
        elif self.timer is None:
            self.timer = self.loop.call_later(self.settings.header_timeout_s, self.head_timed_out)

    def check_head_size(self) -> None:
        """The exact size of a complete head (its target, names and values), against the limit."""
        limit = self.max_header_bytes
        if len(self.url) > limit:
            raise Refused(UriTooLong(limit))
        if len(self.url) + sum(len(name) + len(value) for name, value in self.headers) > limit:
            raise Refused(HeaderFieldsTooLarge(limit))

    def watch_body(self) -> None:
        """After a read that left a body unfinished: note the time, and watch for a stall."""
        self.body_seen = self.loop.time()
        if self.timer is None:
            self.timer = self.loop.call_later(self.settings.body_timeout_s, self.check_body)

    def head_timed_out(self) -> None:
        self.timer = None
        self.refuse(HeaderTimeout(self.settings.header_timeout_s), "header_timeout")

    def check_body(self) -> None:
        self.timer = None
        stalled = self.loop.time() - self.body_seen
        timeout = self.settings.body_timeout_s
        if stalled < timeout:
            self.timer = self.loop.call_later(timeout - stalled, self.check_body)
        else:
            self.refuse(BodyTimeout(timeout), "body_timeout")

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    @property
    def peer(self) -> str:
        """`host:port` of the client, for the log."""
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"

    def refuse_malformed(self, error: httptools.HttpParserError) -> None:
        cause = error.__context__
        if isinstance(cause, Refused):
            self.refuse(cause.error)
        else:
            self.refuse(BadRequest("the request is not valid HTTP/1.1"), reason="malformed")

    def refuse(self, error: ServiceError, reason: str | None = None, linger: float = LINGER_S) -> None:
        """Answer `error` (unless an answer has begun), count and log it, then close lingering."""
        reason = reason or error.code
        metrics.observe_http_event(f"refused_{reason}")
        message = f"answered {self.peer} {error.status} and closed the connection: {error.message}"
        refusal_log.hit(reason, message)
        cycle, running = self.cycle, self.running_cycle
        if running is not None and running is not cycle and not running.response_complete:
            self.reset()  # an earlier pipelined request is still answering: no refusal fits in
            return
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the view sees the client gone; its answer is dropped
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        self.transport.write(raw_response(error))
        self.linger(linger)

    # -- closing ---------------------------------------------------------------------------

    def close_after_answer(self) -> None:
        """The cycle closes the connection: at once if its request was read whole, else lingering."""
        if self.in_body and not self.lingering:
            self.linger(LINGER_S)
        else:
            self.transport.close()

    def linger(self, seconds: float) -> None:
        """Half-close, then read and drop what the client still sends, for at most `seconds`
        and at most `LINGER_SILENCE_S` without a byte, so it can read the answer before the
        close (closing with its bytes unread would send a reset instead)."""
        self.lingering = True
        self.in_body = False
        self.cancel_timer()
        self._unset_keepalive_if_required()
        transport = self.transport
        if transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()  # after the answer, once it is flushed
        transport.resume_reading()
        self.linger_until = self.loop.time() + seconds
        self.linger_bytes = -1
        self.check_linger()

    def check_linger(self) -> None:
        self.timer = None
        now = self.loop.time()
        if self.linger_bytes == 0 or now >= self.linger_until:
            self.transport.close()
            return
        self.linger_bytes = 0
        self.timer = self.loop.call_later(min(LINGER_SILENCE_S, self.linger_until - now), self.check_linger)

    # -- Upgrade ---------------------------------------------------------------------------

    def head_without_upgrade(self) -> bytes:
        """The head just parsed, without `Upgrade` and without `upgrade` in `Connection`."""
        version = self.parser.get_http_version().encode()
        lines = [self.parser.get_method() + b" " + self.url + b" HTTP/" + version]
        for name, value in self.headers:
            if name == b"connection":
                value = b", ".join(
                    token.strip() for token in value.split(b",") if token.strip().lower() != b"upgrade"
                )
            if name != b"upgrade" and value:
                lines.append(name + b": " + value)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def serve_upgrade_as_http(self, rest: bytes) -> None:
        """Parse the upgrade request's head again without the upgrade, then what followed it."""
        metrics.observe_http_event("upgrades_ignored")
        head, self.upgrade_head = self.upgrade_head, None
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.data_received(head + rest)
