"""The ASGI handler the image serves: Django's, with the body limit enforced as the body arrives."""

import asyncio
import json
import logging

from httpserver.handler import ServiceHandler

from server.test_views import Echo

HANDLER = ServiceHandler()


def call(method, path, chunks=(b"",), headers=(), **options):
    return asyncio.run(exchange(method, path, chunks, headers, **options))


async def exchange(method, path, chunks=(b"",), headers=(), pause=0.0, disconnect_after=None):
    """One request through the handler: (status, headers, body, how many body messages it read).
    The body arrives as `chunks`, `pause` seconds apart; the client leaves after
    `disconnect_after` messages if set."""
    sent, reads = [], []

    async def receive():
        index = len(reads)
        reads.append(index)
        if disconnect_after is not None and index >= disconnect_after:
            return {"type": "http.disconnect"}
        if pause and index:
            await asyncio.sleep(pause)
        more = index < len(chunks) - 1
        return {"type": "http.request", "body": chunks[min(index, len(chunks) - 1)], "more_body": more}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")] + [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    await HANDLER(scope, receive, send)
    if not sent:
        return None, {}, b"", len(reads)
    start = sent[0]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body, len(reads)


def test_post_service_is_answered_through_django_and_the_batching_loop(serve, caplog):
    runtime = serve(Echo())
    with caplog.at_level(logging.INFO, logger="httpserver.access"):
        status, headers, body, _ = call("POST", "/service", [b"hel", b"lo"], [("Content-Type", "text/plain")])
    assert (status, body) == (200, b"hello")
    assert headers["content-type"].startswith("text/plain") and headers["content-length"] == "5"
    assert runtime.batcher._arriving == 0


def test_a_declared_length_over_the_limit_is_refused_413_before_the_body_is_read(serve, caplog):
    runtime = serve(Echo(), max_body_bytes=10)
    with caplog.at_level(logging.INFO, logger="httpserver.access"):
        status, _, body, reads = call("POST", "/service", [b"x" * 11], [("Content-Length", "11")])
    assert status == 413 and reads == 0
    assert json.loads(body)["error"] == "payload_too_large"
    assert runtime.batcher._arriving == 0 and runtime.model.instance.seen == []


def test_a_body_without_length_is_cut_off_413_as_soon_as_it_passes_the_limit(serve):
    runtime = serve(Echo(), max_body_bytes=10)
    status, _, _, reads = call("POST", "/service", [b"x" * 6, b"x" * 6, b"x" * 6, b"x" * 6])
    assert status == 413 and reads == 2  # never read past the chunk that crossed the limit
    assert runtime.batcher._arriving == 0 and runtime.model.instance.seen == []
    assert call("POST", "/service", [b"x" * 5, b"x" * 5])[:3:2] == (200, b"x" * 10)


def test_a_malformed_content_length_is_400(serve):
    serve(Echo())
    status, _, body, _ = call("POST", "/service", [b"abc"], [("Content-Length", "three")])
    assert status == 400 and "Content-Length" in json.loads(body)["message"]


def test_a_client_that_leaves_before_its_body_arrives_gets_nothing_and_leaves_no_trace(serve):
    runtime = serve(Echo())
    status, _, _, _ = call("POST", "/service", [b"a", b"b"], disconnect_after=1)
    assert status is None
    assert runtime.batcher._arriving == 0 and runtime.model.instance.seen == []


def test_a_batch_waits_for_a_body_still_arriving(serve):
    """Request B announces itself when its body starts; A (complete) waits for it up to
    max_latency_ms, so both run in one execute call."""
    runtime = serve(Echo(), max_latency_ms=2000)

    async def both():
        slow_b = asyncio.ensure_future(exchange("POST", "/service", [b"b1", b"b2"], pause=0.2))
        await asyncio.sleep(0.05)  # B has announced itself and waits for its second chunk
        answer_a = await exchange("POST", "/service", [b"a"])
        return answer_a[2], (await slow_b)[2]

    assert asyncio.run(both()) == (b"a", b"b1b2")
    assert [[item.body for item in batch] for batch in runtime.model.instance.seen] == [[b"a", b"b1b2"]]
