"""Faults in the model and overload, at the batcher: a hung execute, one that raises any
BaseException, jobs past their deadline, work that cannot finish in time, a stop past its
timeout. Jobs go the server's way (submitted and awaited on an event loop)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from httpserver.batching import Batcher
from httpserver.errors import (
    BadResult,
    ExecuteFailed,
    Overloaded,
    RequestTimeout,
    ServerBusy,
    ShuttingDown,
    Stalled,
)

from server.batch_support import EventLoop


class Gated:
    """Answers each input by name; holds execute at a gate the test opens; counts items run."""

    def __init__(self, per_item: float = 0.0):
        self.per_item = per_item
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.seen: list[object] = []

    def execute(self, data, batch_size):
        self.entered.set()
        self.gate.wait(20)
        self.seen.extend(data)
        time.sleep(self.per_item * batch_size)
        return [f"answer:{item}" for item in data]


class Item:
    """An input with a request id, as a RequestInput carries it (`request_id`)."""

    def __init__(self, name: str, request_id: str | None = None):
        self.name = name
        self.request_id = request_id

    def __str__(self) -> str:
        return self.name


@pytest.fixture
def events():
    """An event loop in a thread, which submits and awaits jobs as the server's does."""
    with EventLoop() as loop:
        yield loop


@pytest.fixture
def batcher_for():
    """Start batchers around models; each is stopped at teardown."""
    made = []

    def make(model, **knobs) -> Batcher:
        made.append(Batcher(model.execute, **knobs).start())
        return made[-1]

    yield make
    for batcher in made:
        batcher.stop(timeout=5)


def hold(events, batcher, model, name="blocker"):
    """Submit a job and wait until execute holds it at the model's closed gate."""
    model.gate.clear()
    job = events.submit(batcher, name)
    assert model.entered.wait(5)
    return job


def test_jobs_that_time_out_in_the_queue_free_their_slot_at_once(batcher_for, events):
    model = Gated()
    batcher = batcher_for(model, max_batch_size=1, max_latency_ms=0, queue_size=2)
    blocker = hold(events, batcher, model)
    for round_ in range(3):  # before: after queue_size timeouts, ServerBusy for ever
        late = [events.submit(batcher, f"late{round_}-{index}") for index in range(2)]
        for job in late:
            with pytest.raises(RequestTimeout):
                events.wait(batcher, job, 0.05)
        assert batcher.depth == 0
    model.gate.set()
    assert events.wait(batcher, blocker, 5) == "answer:blocker"
    assert events.infer(batcher, "after", 5) == ("answer:after", 1)
    assert [str(item) for item in model.seen] == ["blocker", "after"]  # the late ones never ran


def test_an_execute_past_its_bound_makes_the_batcher_stalled_until_it_returns(batcher_for, events, caplog):
    model = Gated()
    batcher = batcher_for(model, max_batch_size=4, max_latency_ms=0, execute_timeout_s=0.1)
    model.gate.clear()
    jobs = [events.submit(batcher, Item("a", "req-1")), events.submit(batcher, Item("b"))]
    assert model.entered.wait(5)
    assert batcher.running.size in (1, 2) and batcher.stalled() is None
    time.sleep(0.15)
    with caplog.at_level(logging.INFO, logger="httpserver.batching"):
        assert batcher.stalled() > 0.1 and batcher.stalled() > 0.1  # logged once, not twice
        with pytest.raises(Stalled, match=r"execute has run for \d+ s, over server.execute_timeout_s = 0.1"):
            events.submit(batcher, "refused")
        model.gate.set()
        assert [events.wait(batcher, job, 5) for job in jobs] == ["answer:a", "answer:b"]
        assert batcher.stalled() is None and batcher.running is None
        assert events.infer(batcher, "after", 5)[0] == "answer:after"
    stalls = [r.getMessage() for r in caplog.records if "execute stalled" in r.getMessage()]
    assert len(stalls) == 1
    assert "on a batch of" in stalls[0] and "req-1" in stalls[0] and "execute_timeout_s = 0.1" in stalls[0]
    assert any("execute returned after" in r.getMessage() for r in caplog.records)


def test_running_describes_the_batch_in_execute_as_every_log_line_names_a_request(batcher_for, events):
    model = Gated()
    batcher = batcher_for(model, max_batch_size=1, max_latency_ms=0)
    assert batcher.running is None
    before = time.monotonic()
    job = hold(events, batcher, model, Item("x", "abc-123"))
    running = batcher.running
    assert (running.size, running.requests) == (1, ["id=abc-123"])
    assert before <= running.started_at <= time.monotonic()
    model.gate.set()
    assert events.wait(batcher, job, 5) == "answer:x"


class Custom(BaseException):
    """A BaseException that is neither SystemExit nor KeyboardInterrupt."""


@pytest.mark.parametrize("kind", [SystemExit, KeyboardInterrupt, Custom, GeneratorExit])
def test_execute_raising_any_base_exception_fails_only_its_batch(batcher_for, events, caplog, kind):
    class Raising:
        def execute(self, data, batch_size):
            if "boom" in data:
                raise kind("from execute")
            return [f"answer:{item}" for item in data]

    batcher = batcher_for(Raising(), max_batch_size=1, max_latency_ms=0)
    with caplog.at_level(logging.ERROR, logger="httpserver.batching"), pytest.raises(ExecuteFailed):
        events.infer(batcher, "boom", 5)
    assert f"execute raised {kind.__name__} for a batch of 1 requests" in caplog.text
    assert batcher.alive and batcher.thread_alive
    assert events.infer(batcher, "fine", 5) == ("answer:fine", 1)


def test_a_job_past_its_deadline_is_not_run_even_if_its_timer_is_late(batcher_for, events):
    model = Gated()
    batcher = batcher_for(model, max_batch_size=4, max_latency_ms=0, request_timeout_s=0.1)
    blocker = hold(events, batcher, model)
    late = events.submit(batcher, "late")
    time.sleep(0.15)  # its deadline passes while the blocker runs
    model.gate.set()
    assert events.wait(batcher, blocker, 5) == "answer:blocker"
    with pytest.raises(RequestTimeout):  # its waiter's timer (here 0.3 s) answers it, not execute
        events.wait(batcher, late, 0.3)
    assert [str(item) for item in model.seen] == ["blocker"]


def test_admission_refuses_what_cannot_finish_within_the_request_timeout(batcher_for, events):
    """0.02 s an item, 1 s timeout: about 0.75 s / 0.02 s = 37 items may wait; the rest are
    refused at once with 503, and every admitted one is answered in time."""
    model = Gated(per_item=0.02)
    batcher = batcher_for(model, max_batch_size=4, max_latency_ms=0, request_timeout_s=1.0)
    for index in range(3):  # measure the model first
        events.infer(batcher, f"warm{index}", 5)
    blocker = hold(events, batcher, model)  # nothing leaves the queue while it fills
    admitted, refused = [blocker], 0
    for index in range(120):
        try:
            admitted.append(events.submit(batcher, f"job{index}"))
        except Overloaded as error:
            assert (error.status, error.headers["Retry-After"]) == (503, "1")
            refused += 1
    assert refused > 70 and 25 < len(admitted) < 45
    model.gate.set()
    started = time.monotonic()
    assert all(events.wait(batcher, job, 1.0).startswith("answer:") for job in admitted)
    assert time.monotonic() - started < 1.0


def test_stop_past_its_timeout_answers_everything_left_503_and_logs_the_count(batcher_for, events, caplog):
    model = Gated()
    batcher = batcher_for(model, max_batch_size=1, max_latency_ms=0)
    blocker = hold(events, batcher, model)
    queued = [events.submit(batcher, f"q{index}") for index in range(3)]
    with caplog.at_level(logging.WARNING, logger="httpserver.batching"):
        assert batcher.stop(timeout=0.1) is False
    for job in (blocker, *queued):
        with pytest.raises(ShuttingDown) as refused:
            events.wait(batcher, job, 5)
        assert (refused.value.status, refused.value.headers["Retry-After"]) == (503, "1")
    lines = [r.getMessage() for r in caplog.records if "shutdown" in r.getMessage()]
    assert lines == [
        "shutdown: the batching loop did not finish within 0.1 s; "
        "answered 503 to 3 queued and 1 running requests"
    ]
    assert batcher.depth == 0
    model.gate.set()
    assert batcher.stop(timeout=5) is True  # the loop ends once its batch returns
    assert [str(item) for item in model.seen] == ["blocker"]


def test_a_refused_request_does_not_keep_the_loop_waiting_for_it(batcher_for, events):
    """A batch waits for company only while someone is on the way: the last request on its way
    refused at admission (here, a full queue) must end the wait at once, as a withdrawal does,
    not after `max_latency_ms` (3 s here)."""
    batcher = batcher_for(Gated(), max_batch_size=4, max_latency_ms=3000, queue_size=1)
    batcher.announce()
    batcher.announce()  # two requests on their way: the first one's batch waits for the second
    first = events.submit(batcher, "first", announced=True)
    deadline = time.monotonic() + 5
    while not batcher._gate_waiting and time.monotonic() < deadline:
        time.sleep(0.005)
    assert batcher._gate_waiting, "the loop never waited for company"
    queued = events.submit(batcher, "queued")  # fills the queue (1), nobody else counted off
    started = time.monotonic()
    with pytest.raises(ServerBusy):
        events.submit(batcher, "refused", announced=True)  # the last one on its way: refused
    assert events.wait(batcher, first, 5) == "answer:first"
    assert time.monotonic() - started < 1.0
    assert events.wait(batcher, queued, 5) == "answer:queued"


def test_a_second_stop_past_its_timeout_does_not_count_the_requests_answered_already(
    batcher_for, events, caplog
):
    """The worker's drain answers a hung batch 503, then gunicorn's exit hook stops again: the
    second stop has nothing left to answer and says nothing (it logged the same request twice)."""
    model = Gated()
    batcher = batcher_for(model, max_batch_size=1, max_latency_ms=0)
    blocker = hold(events, batcher, model)
    with caplog.at_level(logging.WARNING, logger="httpserver.batching"):
        assert batcher.stop(timeout=0.1) is False
        assert batcher.stop(timeout=0) is False
    with pytest.raises(ShuttingDown):
        events.wait(batcher, blocker, 5)
    assert [r.getMessage() for r in caplog.records if "shutdown" in r.getMessage()] == [
        "shutdown: the batching loop did not finish within 0.1 s; "
        "answered 503 to 0 queued and 1 running requests"
    ]
    model.gate.set()


class Unsized:
    """What a 0-d numpy array is to `len`: it has `__len__`, and calling it raises TypeError."""

    def __len__(self):
        raise TypeError("len() of unsized object")


def test_a_result_whose_len_raises_fails_its_batch_500_and_never_answers_200_null(
    batcher_for, events, caplog
):
    """`execute` returning `np.array(5)` (or anything whose len raises): its batch gets 500
    bad_result with one line, as a result list of the wrong length does (it got 200 `null`,
    and the loop's "unexpected error" traceback)."""
    batcher = batcher_for(
        type("Model", (), {"execute": lambda self, data, size: Unsized()})(), max_latency_ms=0
    )
    with caplog.at_level(logging.ERROR, logger="httpserver.batching"), pytest.raises(BadResult):
        events.infer(batcher, "x", 5)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "execute returned a Unsized for a batch of 1 requests; it must return a list with one result "
        "per input, in order; answering the batch 500"
    ]
    assert not any(record.exc_info for record in caplog.records)
