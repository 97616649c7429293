"""Bounded dynamic batching: requests queue jobs, one loop thread runs `execute` on batches.

The server's requests live on an event loop: `submit(..., loop)` queues a `Job` and
`wait_async` awaits it. The loop thread (UAI's single inference thread) takes what is
queued (up to `max_batch_size`), calls `execute(items, len(items))` once, and hands each job its own
result, in order, with one wake-up of the event loop per batch. Threads can use the same
engine with `submit` and `wait` (tests, embedding).

The wait for company is bounded by `max_latency_ms` (0: take what is queued now, UAI's
behaviour) and is skipped when no other request is on its way, so a lone client pays no
batching delay. Requests announce themselves when their body starts to arrive
(`announce`); that count is what "on its way" means.

Bounds: the queue holds at most `queue_size` jobs (then `ServerBusy`, answered 503); a
job not answered within its timeout is abandoned (504) and skipped if still queued; an
`execute` that raises fails only its own batch; `stop` refuses new jobs and answers all
queued ones before the loop exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from httpserver import supervision
from httpserver.errors import BadResult, ExecuteFailed, RequestTimeout, ServerBusy, ServiceError, ShuttingDown
from httpserver.metrics import Metrics

log = logging.getLogger("httpserver.batching")


@dataclass(eq=False, slots=True)
class Job:
    """One request's trip through the loop: its input, then its result or error."""

    item: object
    enqueued_at: float = 0.0
    result: object = None
    error: ServiceError | None = None
    batch_size: int = 0
    abandoned: bool = False
    # How the waiter learns the answer: a future of its event loop, or a held lock a thread
    # blocks on (released once result/error is set).
    future: asyncio.Future | None = None
    done: threading.Lock | None = None


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


class Batcher:
    """One batching loop around `execute(items, batch_size) -> results`."""

    def __init__(
        self,
        execute: Callable[[list, int], Sequence],
        *,
        max_batch_size: int = 32,
        max_latency_ms: float = 2.0,
        queue_size: int = 1024,
        metrics: Metrics | None = None,
    ):
        self._execute = execute
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000.0
        self.queue_size = queue_size
        self.metrics = metrics or Metrics()
        # SimpleQueue and Lock are C-level: no Python-level Condition on the hot path (measured:
        # the handoff to the loop thread is most of what batching costs an echo request).
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _queued, _arriving, _stopping and the gate fields
        self._queued = 0
        self._arriving = 0
        self._stopping = False
        # While the loop waits for company it sleeps on this held lock; the request side
        # releases it once, when the batch can fill or nobody else is on the way, instead of
        # waking the loop for every job (measured: a wake-up is a futex syscall under the GIL).
        self._gate = _held_lock()
        self._wake_lock = threading.Lock()  # orders a job's release against its abandonment
        self._gate_waiting = False
        self._gate_want = 0
        self._thread = threading.Thread(target=self._loop, name="uai-batching", daemon=True)

    # -- request side ---------------------------------------------------------------------------

    def start(self) -> Batcher:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """True while the loop runs and takes new work."""
        return self._thread.is_alive() and not self._stopping

    @property
    def depth(self) -> int:
        """Requests waiting for the loop (not counting the batch being run)."""
        return self._queued

    def announce(self) -> None:
        """A request has arrived and will `submit` soon (or `withdraw`): worth waiting for."""
        with self._lock:
            self._arriving += 1

    def withdraw(self) -> None:
        """An announced request will not submit after all (bad body, too large, ...)."""
        with self._lock:
            self._arriving -= 1
            if self._gate_waiting and self._arriving <= 0:
                self._open_gate()

    def _open_gate(self) -> None:
        """Wake the loop waiting for company (called under `_lock`)."""
        self._gate_waiting = False
        self._gate.release()

    def submit(
        self, item: object, announced: bool = False, loop: asyncio.AbstractEventLoop | None = None
    ) -> Job:
        """Queue one input; its answer comes to a future of `loop` (`await wait_async`) or, with
        no loop, to a thread (`wait`). Raises ServerBusy when the queue is full, ShuttingDown
        after `stop`."""
        job = Job(item, future=loop.create_future()) if loop is not None else Job(item, done=_held_lock())
        with self._lock:
            if announced:
                self._arriving -= 1
            if self._stopping:
                raise ShuttingDown()
            if self._queued >= self.queue_size:
                raise ServerBusy()
            self._queued += 1
            job.enqueued_at = time.monotonic()
            self._queue.put(job)
            if self._gate_waiting and (self._queued >= self._gate_want or self._arriving <= 0):
                self._open_gate()
        return job

    async def wait_async(self, job: Job, timeout: float) -> object:
        """On the job's event loop: its result; raises its error, or RequestTimeout after
        `timeout` seconds."""
        timer = job.future.get_loop().call_later(timeout, _expire, job, timeout)
        try:
            return await job.future
        except asyncio.CancelledError:  # the request is gone: skip it if still queued
            job.abandoned = True
            raise
        finally:
            timer.cancel()

    def wait(self, job: Job, timeout: float) -> object:
        """From a thread: the job's result; raises its error, or RequestTimeout after `timeout` s."""
        if not job.done.acquire(timeout=timeout):
            with self._wake_lock:
                job.abandoned = True  # the loop skips it if still queued, drops its answer if not
                answered = job.done.acquire(blocking=False)
            if not answered:
                raise RequestTimeout(timeout)
        if job.error is not None:
            raise job.error
        return job.result

    def infer(self, item: object, timeout: float, announced: bool = False) -> tuple[object, int]:
        """From a thread: submit and wait, (result, size of the batch it ran in)."""
        job = self.submit(item, announced)
        return self.wait(job, timeout), job.batch_size

    def stop(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, answer the queued ones, end the loop; True if it ended in time."""
        with self._lock:
            already, self._stopping = self._stopping, True
            if self._gate_waiting:
                self._open_gate()
        if not already:
            self._queue.put(None)  # wakes the loop; it ends once the queue is empty
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- loop side ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                batch = self._collect()
                if batch is None:
                    return
                if batch:
                    self._run(batch)
            except Exception:  # a bug here must not silently stop serving
                log.exception("the batching loop hit an unexpected error; it goes on")

    def _accept(self, job: Job | None, batch: list[Job]) -> bool:
        """Add a dequeued job to the batch; False for the stop sentinel."""
        if job is None:
            return False
        with self._lock:
            self._queued -= 1
        if not job.abandoned:
            batch.append(job)
        return True

    def _collect(self) -> list[Job] | None:
        """The next batch (maybe empty), or None once stopped and every queued job is answered."""
        limit, get = self.max_batch_size, self._queue.get
        batch: list[Job] = []
        if not self._accept(get(), batch):
            if self._queued == 0:
                return None
            self._queue.put(None)  # stopping with jobs still queued: answer them first
            return batch
        try:
            while len(batch) < limit:  # everything queued now
                if not self._accept(self._queue.get_nowait(), batch):
                    self._queue.put(None)  # keep the sentinel for after this batch
                    return batch
        except queue.Empty:
            pass
        if self.max_latency > 0 and batch and len(batch) < limit and self._arriving > 0:
            # Wait for company only while someone is on the way: a lone client never waits.
            remaining = batch[0].enqueued_at + self.max_latency - time.monotonic()
            if remaining > 0 and self._wait_for_company(limit - len(batch), remaining):
                try:
                    while len(batch) < limit:
                        if not self._accept(self._queue.get_nowait(), batch):
                            self._queue.put(None)
                            break
                except queue.Empty:
                    pass
        return batch

    def _wait_for_company(self, want: int, timeout: float) -> bool:
        """Sleep until `want` more jobs are queued, nobody is on the way, or `timeout`; True if
        there may be jobs to take."""
        with self._lock:
            sleep = not self._stopping and self._queued < want and self._arriving > 0
            if sleep:
                self._gate_want = want
                self._gate_waiting = True
        if sleep:
            self._gate.acquire(timeout=timeout)
            with self._lock:
                if self._gate_waiting:  # timed out: close the gate ourselves
                    self._gate_waiting = False
                else:  # opened (maybe just after the timeout): take the release back
                    self._gate.acquire(blocking=False)
        return self._queued > 0

    def _run(self, batch: list[Job]) -> None:
        size = len(batch)
        failed = True
        try:
            supervision.batch_started(batch)
            results = self._execute([job.item for job in batch], size)
            if results is not None and not hasattr(results, "__len__") and hasattr(results, "__iter__"):
                results = list(results)
            count = len(results) if hasattr(results, "__len__") else None
            if count != size:
                got = f"{count} results" if count is not None else f"a {type(results).__name__}"
                log.error(
                    "execute returned %s for a batch of %d requests; it must return a list with "
                    "one result per input, in order; answering the batch 500",
                    got,
                    size,
                )
                for job in batch:
                    job.error = BadResult(
                        "the model's execute returned the wrong number of results; see the log"
                    )
            else:
                for job, result in zip(batch, results, strict=True):
                    job.result = result
                failed = False
        except Exception:
            log.exception("execute raised for a batch of %d requests; answering them 500", size)
            for job in batch:
                job.error = ExecuteFailed()
        finally:
            supervision.batch_ended()
            self._answer(batch)
            self.metrics.observe_batch(size, failed)

    def _answer(self, batch: list[Job]) -> None:
        """Hand every job of a run batch its answer: one wake-up per event loop (measured: a
        wake-up per request is a syscall under the GIL), a lock release per waiting thread."""
        size, settle_by_loop = len(batch), {}
        for job in batch:
            job.batch_size = size
            if job.future is not None:
                settle_by_loop.setdefault(job.future.get_loop(), []).append(job)
            else:
                with self._wake_lock:
                    if not job.abandoned:
                        job.done.release()
        for loop, jobs in settle_by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to answer
                loop.call_soon_threadsafe(_settle, jobs)


def _settle(jobs: list[Job]) -> None:
    """On the event loop: resolve the futures of answered jobs (not those that timed out)."""
    for job in jobs:
        if not job.future.done():
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)


def _expire(job: Job, timeout: float) -> None:
    """On the event loop, `timeout` s after submit: answer 504 and let the loop skip the job."""
    if not job.future.done():
        job.abandoned = True
        job.future.set_exception(RequestTimeout(timeout))
