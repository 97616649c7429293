"""Bounded dynamic batching: requests queue jobs, one loop thread runs `execute` on batches.

The server's requests live on an event loop: `submit(item, announced, loop)` queues a `Job`
and `wait_async` awaits it. The loop thread (UAI's single inference thread) takes what is
queued (up to `max_batch_size`), calls `execute(items, len(items))` once, and hands each job its
own result, in order, with one wake-up of the event loop per batch.

The wait for company is bounded by `max_latency_ms` (0: take what is queued now, UAI's
behaviour) and is skipped when no other request is on its way, so a lone client pays no
batching delay. Requests announce themselves when their body starts to arrive
(`announce`); that count is what "on its way" means.

Bounds:
- Admission: the queue holds at most `queue_size` jobs, and no more work than can finish
  within `ADMIT_FRACTION` of the request timeout, estimated from the measured seconds per
  item of past batches (`ServerBusy` / `Overloaded`, answered 503 with Retry-After).
- Deadlines: a job not answered within its timeout is abandoned (504) and frees its queue
  slot at once; the loop never runs a job whose deadline has passed.
- Faults: an `execute` that raises anything (`SystemExit` and `KeyboardInterrupt` too)
  fails only its own batch (500). One that runs past `execute_timeout_s` makes the batcher
  `stalled` (the probes say not ready and not alive, new jobs get 503) until it returns.
- Shutdown: `stop` refuses new jobs and answers the queued ones before the loop exits; past
  its timeout it answers what is left 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from httpserver import supervision
from httpserver.errors import (
    BadResult,
    ExecuteFailed,
    Overloaded,
    RequestTimeout,
    ServerBusy,
    ServiceError,
    ShuttingDown,
    Stalled,
)
from httpserver.metrics import Metrics

log = logging.getLogger("httpserver.batching")

#: Admit a job only if the work queued ahead is estimated to finish within this share of the
#: request timeout (the rest is headroom for the estimate's error and the job's own batch).
ADMIT_FRACTION = 0.75
#: Weight of the newest batch in the moving average of seconds per item.
EWMA_WEIGHT = 0.2


@dataclass(eq=False, slots=True)
class Job:
    """One request's trip through the loop: its input, then its result or error."""

    item: object
    future: asyncio.Future
    enqueued_at: float = 0.0
    deadline: float = 0.0
    result: object = None
    error: ServiceError | None = None
    batch_size: int = 0
    abandoned: bool = False  # answered 504 (or its client left): never run, never answered again
    taken: bool = False  # dequeued by the loop: no longer counted in the queue


@dataclass(eq=False, slots=True)
class Running:
    """The batch `execute` is running now (`Batcher.running`): read-only for the probes and
    for a report of a worker's death."""

    size: int
    started_at: float  # time.monotonic() when execute was called
    jobs: tuple[Job, ...] = field(repr=False)
    reported: bool = False  # its stall has been logged: the batcher is stalled

    @property
    def requests(self) -> list[str]:
        """The first `supervision.DESCRIBED` jobs, as every log line names a request."""
        return [supervision.describe_request(job.item) for job in self.jobs[: supervision.DESCRIBED]]


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
        request_timeout_s: float = 30.0,
        execute_timeout_s: float = 0.0,
        metrics: Metrics | None = None,
    ):
        self._execute = execute
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000.0
        self.queue_size = queue_size
        self.request_timeout = request_timeout_s
        self.execute_timeout = execute_timeout_s or request_timeout_s
        self.metrics = metrics or Metrics()
        # SimpleQueue and Lock are C-level: no Python-level Condition on the hot path (measured:
        # the handoff to the loop thread is most of what batching costs an echo request).
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _queued, _arriving, _stopping, the gate, Job.taken
        self._queued = 0
        self._arriving = 0
        self._stopping = False
        self._running: Running | None = None
        self._item_seconds = 0.0  # moving average of execute's seconds per item
        self._admit_seconds = ADMIT_FRACTION * request_timeout_s
        # While the loop waits for company it sleeps on this held lock; the request side
        # releases it once, when the batch can fill or nobody else is on the way, instead of
        # waking the loop for every job (measured: a wake-up is a futex syscall under the GIL).
        self._gate = _held_lock()
        self._gate_waiting = False
        self._gate_want = 0
        self._thread = threading.Thread(target=self._loop, name="uai-batching", daemon=True)

    # -- request side ---------------------------------------------------------------------------

    def start(self) -> Batcher:
        """Start the loop thread; returns the batcher."""
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """True while the loop runs and takes new work."""
        return self._thread.is_alive() and not self._stopping

    @property
    def thread_alive(self) -> bool:
        """True until the loop thread has ended (after `stop`, or a bug)."""
        return self._thread.is_alive()

    @property
    def depth(self) -> int:
        """Requests waiting for the loop (not counting the batch being run nor abandoned ones)."""
        return self._queued

    @property
    def running(self) -> Running | None:
        """The batch being executed now, or None."""
        return self._running

    def stalled(self) -> float | None:
        """Seconds the running execute has run if that is over `execute_timeout`, else None.
        The first call that finds a stall logs it and makes `submit` refuse (the probes and
        the metrics publisher, once a second under gunicorn, call this; no thread watches)."""
        running = self._running
        if running is None:
            return None
        elapsed = time.monotonic() - running.started_at
        if elapsed <= self.execute_timeout:
            return None
        with self._lock:  # the probes (event loop) and the metrics publisher (a thread) both ask
            first, running.reported = not running.reported, True  # from now on, submit refuses
        if first:
            log.error(
                "execute stalled: it has run for %.1f s on a batch of %d requests %s, over "
                "server.execute_timeout_s = %g; this process reports not ready and not alive "
                "until it returns",
                elapsed,
                running.size,
                supervision.requests_text(running.requests, running.size),
                self.execute_timeout,
            )
        return elapsed

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

    def submit(self, item: object, announced: bool, loop: asyncio.AbstractEventLoop) -> Job:
        """Queue one input; its answer comes to a future of `loop` (`await wait_async`).
        Raises ServerBusy or Overloaded when the queue is full of work, Stalled while execute
        is stalled, ShuttingDown after `stop`."""
        job = Job(item, loop.create_future())
        running = self._running
        with self._lock:
            if announced:
                self._arriving -= 1
            now, queued = time.monotonic(), self._queued
            refusal = self._refusal(queued, running, now)
            if refusal is not None:
                if self._gate_waiting and self._arriving <= 0:  # it was the last one on its way
                    self._open_gate()
                raise refusal
            self._queued = queued + 1
            job.enqueued_at = now
            job.deadline = now + self.request_timeout
            self._queue.put(job)
            if self._gate_waiting and (queued + 1 >= self._gate_want or self._arriving <= 0):
                self._open_gate()
        return job

    def _refusal(self, queued: int, running: Running | None, now: float) -> ServiceError | None:
        """Why a new job is refused now (called under `_lock`), or None to admit it."""
        if self._stopping:
            return ShuttingDown()
        if running is not None and running.reported:  # declared by a probe or the metrics
            return Stalled(now - running.started_at, self.execute_timeout)
        if queued >= self.queue_size:
            return ServerBusy()
        in_execute = running.size if running is not None else 0
        if queued and (queued + in_execute + 1) * self._item_seconds > self._admit_seconds:
            return Overloaded()
        return None

    async def wait_async(self, job: Job, timeout: float) -> object:
        """On the job's event loop: its result; raises its error, or RequestTimeout after
        `timeout` seconds."""
        timer = job.future.get_loop().call_later(timeout, _expire, self, job, timeout)
        try:
            return await job.future
        except asyncio.CancelledError:  # the request is gone: skip it if still queued
            self._abandon(job)
            raise
        finally:
            timer.cancel()

    def _abandon(self, job: Job) -> None:
        """The job will not be answered by the loop: out of the queue's count at once."""
        with self._lock:
            if not job.abandoned:
                job.abandoned = True
                if not job.taken:
                    self._queued -= 1

    def stop(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, answer the queued ones, end the loop; True if it ended in time.
        Past `timeout`, every job still queued or running is answered 503 (ShuttingDown)."""
        with self._lock:
            already, self._stopping = self._stopping, True
            if self._gate_waiting:
                self._open_gate()
        if not already:
            self._queue.put(None)  # wakes the loop; it ends once the queue is empty
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        queued, running = self._refuse_left()
        if queued or running:
            log.warning(
                "shutdown: the batching loop did not finish within %g s; answered 503 to %d queued "
                "and %d running requests",
                timeout,
                queued,
                running,
            )
        return False

    def _refuse_left(self) -> tuple[int, int]:
        """Answer every job still queued, and those of the running batch, 503; their counts."""
        left: list[Job] = []
        with contextlib.suppress(queue.Empty):
            while True:
                job = self._queue.get_nowait()
                if job is not None:
                    left.append(job)
        self._queue.put(None)  # the loop still ends once its batch returns
        running = self._running
        with self._lock:
            for job in left:
                job.taken = True
                if not job.abandoned:
                    self._queued -= 1
            left = [job for job in left if not job.abandoned]
            in_execute = [job for job in running.jobs if not job.abandoned] if running is not None else []
            for job in left + in_execute:
                job.error = ShuttingDown()
                job.abandoned = True  # answered now: a later stop does not count it again
        _answer(left + in_execute)
        return len(left), len(in_execute)

    # -- loop side ------------------------------------------------------------------------------

    def _loop(self) -> None:
        """The loop thread: collect a batch, run it, until `stop`'s sentinel with nothing queued."""
        while True:
            try:
                batch = self._collect()
                if batch is None:
                    return
                if batch:
                    self._run(batch)
            except BaseException:  # a bug here must not silently stop serving
                log.exception("the batching loop hit an unexpected error; it goes on")

    def _accept(self, job: Job | None, batch: list[Job]) -> bool:
        """Add a dequeued job to the batch; False for the stop sentinel."""
        if job is None:
            return False
        with self._lock:
            job.taken = True
            if not job.abandoned:
                self._queued -= 1
        if not job.abandoned:
            batch.append(job)
        return True

    def _take_queued(self, batch: list[Job]) -> bool:
        """Add what is queued now, up to the batch limit; False once the stop sentinel came."""
        try:
            while len(batch) < self.max_batch_size:
                if not self._accept(self._queue.get_nowait(), batch):
                    self._queue.put(None)  # keep the sentinel for after this batch
                    return False
        except queue.Empty:
            pass
        return True

    def _collect(self) -> list[Job] | None:
        """The next batch (maybe empty), or None once stopped and every queued job is answered."""
        limit = self.max_batch_size
        batch: list[Job] = []
        if not self._accept(self._queue.get(), batch):
            if self._queued == 0:
                return None
            self._queue.put(None)  # stopping with jobs still queued: answer them first
            return batch
        if not self._take_queued(batch):
            return batch
        if self.max_latency > 0 and batch and len(batch) < limit and self._arriving > 0:
            # Wait for company only while someone is on the way: a lone client never waits.
            remaining = batch[0].enqueued_at + self.max_latency - time.monotonic()
            if remaining > 0 and self._wait_for_company(limit - len(batch), remaining):
                self._take_queued(batch)
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
        """Run one batch: jobs past their deadline are dropped (answered 504 by their timer),
        the rest executed and answered; the time taken feeds the admission estimate."""
        started = time.monotonic()
        batch = [job for job in batch if not job.abandoned and job.deadline > started]
        if not batch:
            return
        size = len(batch)
        running = self._running = Running(size, started, tuple(batch))
        failed = True
        try:
            supervision.batch_started(batch)
            failed = self._call_execute(batch)
        finally:
            supervision.batch_ended()
            self._running = None
            if failed:  # also when something raised before every job had its answer: never 200 null
                for job in batch:
                    job.error = job.error or ExecuteFailed()
            took = time.monotonic() - started
            spent = took / size
            self._item_seconds += (EWMA_WEIGHT if self._item_seconds else 1.0) * (spent - self._item_seconds)
            if running.reported:
                log.warning("execute returned after %.1f s; this process is alive and ready again", took)
            _answer(batch)
            self.metrics.observe_batch(size, failed)

    def _call_execute(self, batch: list[Job]) -> bool:
        """Call execute and give each job its result or error; True if the batch failed."""
        size = len(batch)
        try:
            results = self._execute([job.item for job in batch], size)
            if results is not None and not hasattr(results, "__len__") and hasattr(results, "__iter__"):
                results = list(results)
        except BaseException as error:  # SystemExit and KeyboardInterrupt from user code too
            log.exception(
                "execute raised %s for a batch of %d requests; answering them 500", type(error).__name__, size
            )
            return True  # `_run` answers every job without an error ExecuteFailed
        count = _length(results)
        if count != size:
            got = f"{count} results" if count is not None else f"a {type(results).__name__}"
            log.error(
                "execute returned %s for a batch of %d requests; it must return a list with "
                "one result per input, in order; answering the batch 500",
                got,
                size,
            )
            for job in batch:
                job.error = BadResult("the model's execute returned the wrong number of results; see the log")
            return True
        for job, result in zip(batch, results, strict=True):
            job.result = result
        return False


def _length(results: object) -> int | None:
    """How many results `execute` returned; None when that is no sized collection (a generator
    already listed, a number, a 0-d numpy array, whose `len` raises)."""
    try:
        return len(results)
    except TypeError:
        return None


def _answer(batch: list[Job]) -> None:
    """Hand every job of a batch its answer: one wake-up per event loop (measured: a wake-up
    per request is a syscall under the GIL)."""
    size, settle_by_loop = len(batch), {}
    for job in batch:
        job.batch_size = size
        settle_by_loop.setdefault(job.future.get_loop(), []).append(job)
    for loop, jobs in settle_by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to answer
            loop.call_soon_threadsafe(_settle, jobs)


def _expire(batcher: Batcher, job: Job, timeout: float) -> None:
    """On the event loop, `timeout` s after submit: answer 504 and free the job's slot."""
    if not job.future.done():
        batcher._abandon(job)
        job.future.set_exception(RequestTimeout(timeout))


def _settle(jobs: list[Job]) -> None:
    """On the event loop: resolve the futures of answered jobs (not those that timed out)."""
    for job in jobs:
        if not job.future.done():
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)
