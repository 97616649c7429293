"""`ServiceHandler`: Django's ASGI handler as this server runs it (see `httpserver.asgi`)."""

from __future__ import annotations

import asyncio
import io
import time

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponseBase

from httpserver import access, runtime
from httpserver.arrival import Arrival, ArrivingRequest
from httpserver.errors import ServiceError, ShuttingDown, error_response
from httpserver.inputs import read_asgi_body
from httpserver.results import BODILESS


class ServiceHandler(ASGIHandler):
    """Django's ASGI handler, with two per-request costs taken out and three duties put in.

    Out (measured on a bare echo view: 1,359 requests/s with them, 11,600 without): the
    thread hop of `sync_to_async(response.close)` (kept when a project connects receivers
    to `request_finished`) and the task per request that listens for a disconnect (a batch
    cannot take a request back; the answer of a client that left is dropped).
    In: the body limit (`server.max_body_bytes`, `httpserver.inputs`), so an oversized body
    is never buffered; the arrival ticket of a POST /service (`httpserver.arrival`), open
    while its body arrives, which lets a batch wait (up to `max_latency_ms`) for a large body
    still on its way; and the access line of every request (`httpserver.access`).
    """

    request_class = ArrivingRequest

    async def __call__(self, scope, receive, send):
        """One request: its ticket open while it is answered, then the answer and its access line."""
        if scope["type"] != "http":
            raise ValueError(f"the inference server serves HTTP, not {scope['type']}")
        started = time.perf_counter()
        current = runtime.installed()
        service = current is not None and scope["method"] == "POST" and scope["path"] == "/service"
        with Arrival(current.batcher if service else None) as ticket:
            try:
                response = await self.respond(scope, receive, ticket)
            except asyncio.CancelledError:
                # Only uvicorn's stop cancels a request here (no task listens for disconnects),
                # past the grace period: answered like the rest the drain could not finish.
                response = error_response(ShuttingDown())
        if response is None:  # the client left before its body arrived: nobody to answer
            return
        await self.send_response(response, send)
        seconds = time.perf_counter() - started
        access.record(scope["method"], scope["path"], response.status_code, seconds, ticket.batch_size)
        if signals.request_finished.has_listeners():
            await sync_to_async(response.close)()
        else:
            response.close()

    async def respond(self, scope: dict, receive, ticket: Arrival) -> HttpResponseBase | None:
        """The response to one request: a refusal of its body, or Django's answer."""
        try:
            body = await read_asgi_body(scope, receive, runtime.current_settings().max_body_bytes)
        except ServiceError as error:
            return error_response(error)
        except RequestAborted:
            return None
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, io.BytesIO(body))
        if request is None:
            return response
        request.arrival = ticket  # httpserver.views.service submits through it
        return await self.run_get_response(request)

    async def send_response(self, response: HttpResponseBase, send) -> None:
        """Django's, with a Content-Length on every whole body: without it the server sends a
        chunked one, extra bytes and work on every answer (not on a 204 or 304, which have none)."""
        whole = not response.streaming and response.status_code not in BODILESS
        if whole and not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        await super().send_response(response, send)
