"""Bounded dynamic batching: request threads queue jobs, one loop thread runs `execute` on batches.

A request thread `submit`s a `Job` and blocks on it; the loop takes what is queued (up to
`max_batch_size`), calls `execute(items, len(items))` once and hands each job its own
result, in order. The wait for company is bounded by `max_latency_ms` (0: take what is
queued now, UAI's behaviour) and is skipped when no other request is on its way, so a
lone client pays no batching delay. Requests announce themselves as they enter the view
(`announce`), before reading their body; that count is what "on its way" means.

Bounds: the queue holds at most `queue_size` jobs (then `ServerBusy`, answered 503); a
job not answered within its timeout is abandoned (504) and skipped if still queued; an
`execute` that raises fails only its own batch; `stop` refuses new jobs and answers all
queued ones before the loop exits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from httpserver.errors import BadResult, ExecuteFailed, RequestTimeout, ServerBusy, ServiceError, ShuttingDown
from httpserver.metrics import Metrics

log = logging.getLogger("httpserver.batching")


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False, slots=True)
class Job:
    """One request's trip through the loop: its input, then its result or error."""

    item: object
    enqueued_at: float = 0.0
    result: object = None
    error: ServiceError | None = None
    batch_size: int = 0
    abandoned: bool = False
    # Released when result/error is set: the cheapest one-shot signal in CPython.
    done: threading.Lock = field(default_factory=_held_lock)
    # The batch it ran in and its place there: its request thread wakes the next ones.
    batch: list[Job] | None = None
    index: int = 0


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

    def submit(self, item: object, announced: bool = False) -> Job:
        """Queue one input; raises ServerBusy when the queue is full, ShuttingDown after `stop`."""
        job = Job(item)
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

    def wait(self, job: Job, timeout: float) -> object:
        """The job's result; raises its error, or RequestTimeout after `timeout` seconds."""
        if not job.done.acquire(timeout=timeout):
            with self._wake_lock:
                job.abandoned = True  # the loop skips it if still queued, drops its answer if not
                answered = job.done.acquire(blocking=False)
            if not answered:
                raise RequestTimeout(timeout)
        if job.batch is not None:
            self._wake(job.batch, 2 * job.index + 1, 2 * job.index + 2)
        if job.error is not None:
            raise job.error
        return job.result

    def infer(self, item: object, timeout: float, announced: bool = False) -> tuple[object, int]:
        """Submit and wait: (result, size of the batch it ran in)."""
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
            for index, job in enumerate(batch):
                job.batch_size, job.batch, job.index = size, batch, index
            self._wake(batch, 0)
            self.metrics.observe_batch(size, failed)

    def _wake(self, batch: list[Job], *indexes: int) -> None:
        """Release the request threads of `batch[indexes]` (a job whose thread gave up: its
        children instead). Each woken thread wakes two more (`wait`), so the loop pays one
        wake-up per batch instead of one per job (measured: each is a futex syscall holding
        the GIL, a quarter of the loop's time with 16-item batches) and the wake-ups spread
        over the request threads in a tree of depth log2(batch)."""
        pending, size = list(indexes), len(batch)
        for _ in range(2 * size + 2):  # each index is visited at most once
            if not pending:
                return
            index = pending.pop()
            if index >= size:
                continue
            job = batch[index]
            with self._wake_lock:
                if not job.abandoned:
                    job.done.release()
                    continue
            pending += (2 * index + 1, 2 * index + 2)
