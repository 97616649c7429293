"""`Arrival`: the ticket of one POST /service on its way to the batching loop.

The loop waits for company (up to `max_latency_ms`) only while some request is on its way,
a count kept by `Batcher.announce` and `withdraw`. A request is counted from the moment its
body starts to arrive: the ticket's `with` block announces it, and on leaving the block the
announcement is withdrawn unless `submit` consumed it. Whatever happens in between (a body
over the limit, a client that leaves, a model still loading, an error in Django), the count
is right again when the block ends, so no batch waits for a request that will never come.

`ServiceHandler` opens the block around the whole request and hands the ticket to the view
on the Django request (`ArrivingRequest.arrival`, typed); the view submits through it and
notes the size of the batch its request ran in, which the access line reports.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from django.core.handlers.asgi import ASGIRequest

if TYPE_CHECKING:
    from httpserver.batching import Batcher, Job


class Arrival:
    """One request's announcement to a batcher (None: a request no batch waits for)."""

    __slots__ = ("_batcher", "_announced", "batch_size")

    def __init__(self, batcher: Batcher | None):
        self._batcher = batcher
        self._announced = False
        #: The size of the batch the request ran in, once it ran (None: no batch ran).
        self.batch_size: int | None = None

    def __enter__(self) -> Arrival:
        if self._batcher is not None:
            self._batcher.announce()
            self._announced = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._announced:
            self._announced = False
            self._batcher.withdraw()

    @property
    def announced(self) -> bool:
        """True while the batcher counts this request as on its way (not yet submitted)."""
        return self._announced

    def submit(self, item: object, loop: asyncio.AbstractEventLoop) -> Job:
        """Queue the request's input; consumes the announcement, even when the batcher refuses
        the job (ServerBusy, ShuttingDown), since `Batcher.submit` counts it off first."""
        announced, self._announced = self._announced, False
        return self._batcher.submit(item, announced, loop)


class ArrivingRequest(ASGIRequest):
    """Django's ASGI request with the arrival ticket `ServiceHandler` opened for it."""

    arrival: Arrival | None = None


def ticket_of(request: object, batcher: Batcher) -> Arrival:
    """The request's ticket from `ServiceHandler`, or an unannounced one for `batcher` (a request
    that came another way: a WSGI server, Django's test client)."""
    ticket = request.arrival if isinstance(request, ArrivingRequest) else None
    if ticket is not None and ticket._batcher is batcher:
        return ticket
    return Arrival(batcher)
