"""Driving the batcher the way the server does, from test threads: an event loop of its own
thread submits and awaits every job (the server's only path), the test waits on it."""

from __future__ import annotations

import asyncio
import threading

from httpserver.batching import Batcher, Job


class EventLoop:
    """An event loop running in a thread of its own, as a worker's; stop it with `close`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine, timeout: float = 30.0):
        """Run `coroutine` on the loop; its result (or its exception) here."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def submit(self, batcher: Batcher, item: object, announced: bool = False) -> Job:
        """`batcher.submit` on the loop, as a view calls it (ServerBusy and the like raise here)."""

        async def submit() -> Job:
            return batcher.submit(item, announced, self.loop)

        return self.run(submit())

    def wait(self, batcher: Batcher, job: Job, timeout: float) -> object:
        """`await batcher.wait_async(job, timeout)` on the loop: the result, or its error raised."""
        return self.run(batcher.wait_async(job, timeout), timeout + 10)

    def infer(self, batcher: Batcher, item: object, timeout: float, announced: bool = False):
        """Submit and wait: (result, size of the batch it ran in)."""
        job = self.submit(batcher, item, announced)
        return self.wait(batcher, job, timeout), job.batch_size

    def __enter__(self) -> EventLoop:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
