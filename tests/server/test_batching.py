"""The batching engine under real concurrency (threads, event loops): batches form, answers stay
paired, bounds hold. Every job goes the server's way: submitted on an event loop and awaited
there (`batch_support.EventLoop` runs one in a thread for the tests that drive it from threads)."""

import asyncio
import threading
import time

import pytest
from httpserver.batching import Batcher
from httpserver.errors import RequestTimeout, ServerBusy, ShuttingDown

from server.batch_support import EventLoop


class Recorder:
    """Answers each input with a string naming it; records batch sizes; optionally slow or gated."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def execute(self, data, batch_size):
        assert batch_size == len(data)
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(list(data))
        time.sleep(self.delay)
        return [f"answer:{item}" for item in data]


@pytest.fixture
def batcher_for():
    made = []

    def make(model, **knobs) -> Batcher:
        batcher = Batcher(model.execute, **knobs).start()
        made.append(batcher)
        return batcher

    yield make
    for batcher in made:
        batcher.stop(timeout=5)


@pytest.fixture
def events():
    """An event loop in a thread, which submits and awaits jobs as the server's does."""
    loop = EventLoop()
    yield loop
    loop.close()


def run_clients(events, batcher, count: int, rounds: int = 1) -> dict[str, object]:
    """`count` threads each infer `rounds` self-naming inputs; returns input -> answer."""
    answers: dict[str, object] = {}
    barrier = threading.Barrier(count)

    def client(index: int) -> None:
        barrier.wait(5)
        for round_ in range(rounds):
            name = f"client{index}-round{round_}"
            answers[name] = events.infer(batcher, name, timeout=10)[0]

    threads = [threading.Thread(target=client, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return answers


def gated(batcher_for, max_batch_size: int = 1, **knobs):
    """A recorder whose execute waits at its closed gate, and its batcher."""
    model = Recorder()
    model.gate.clear()
    return model, batcher_for(model, max_batch_size=max_batch_size, **knobs)


def test_concurrent_requests_form_batches_larger_than_one_and_each_gets_its_own_answer(batcher_for, events):
    model = Recorder(delay=0.01)
    batcher = batcher_for(model, max_batch_size=32, max_latency_ms=2)
    answers = run_clients(events, batcher, count=16, rounds=5)
    assert len(answers) == 80
    assert all(answer == f"answer:{name}" for name, answer in answers.items())
    assert max(len(batch) for batch in model.batches) > 1
    assert sum(len(batch) for batch in model.batches) == 80


def test_no_batch_exceeds_max_batch_size(batcher_for, events):
    model = Recorder(delay=0.005)
    batcher = batcher_for(model, max_batch_size=4, max_latency_ms=5)
    answers = run_clients(events, batcher, count=12, rounds=4)
    assert all(answer == f"answer:{name}" for name, answer in answers.items())
    sizes = [len(batch) for batch in model.batches]
    assert max(sizes) == 4 and sum(sizes) == 48


def test_the_queue_is_bounded_and_refuses_beyond_queue_size(batcher_for, events):
    """Also before any batch was measured: the admission estimate does not replace the limit."""
    model, batcher = gated(batcher_for, queue_size=2)
    running = events.submit(batcher, "running")
    assert model.entered.wait(5)
    queued = [events.submit(batcher, "q1"), events.submit(batcher, "q2")]
    with pytest.raises(ServerBusy):
        events.submit(batcher, "overflow")
    model.gate.set()
    assert [events.wait(batcher, job, 5) for job in (running, *queued)] == [
        "answer:running",
        "answer:q1",
        "answer:q2",
    ]


def test_a_lone_request_does_not_wait_for_company(batcher_for, events):
    batcher = batcher_for(Recorder(), max_latency_ms=500)
    started = time.perf_counter()
    assert events.infer(batcher, "alone", timeout=5) == ("answer:alone", 1)
    assert time.perf_counter() - started < 0.1


def test_the_first_request_waits_up_to_max_latency_for_an_announced_one(batcher_for, events):
    model = Recorder()
    batcher = batcher_for(model, max_latency_ms=2000)
    batcher.announce()  # a second request is on its way (reading its body)
    first = events.submit(batcher, "first")
    time.sleep(0.05)
    assert model.batches == []  # still waiting for company
    second = events.submit(batcher, "second", announced=True)
    assert (events.wait(batcher, first, 5), events.wait(batcher, second, 5)) == (
        "answer:first",
        "answer:second",
    )
    assert model.batches == [["first", "second"]]


def test_the_wait_for_company_ends_at_max_latency(batcher_for, events):
    model = Recorder()
    batcher = batcher_for(model, max_latency_ms=50)
    batcher.announce()  # announced but never submitted
    started = time.perf_counter()
    assert events.infer(batcher, "first", timeout=5)[1] == 1
    assert 0.04 <= time.perf_counter() - started < 0.5


def test_max_latency_zero_takes_only_what_is_queued_now(batcher_for, events):
    model = Recorder()
    batcher = batcher_for(model, max_latency_ms=0)
    batcher.announce()
    started = time.perf_counter()
    assert events.infer(batcher, "now", timeout=5) == ("answer:now", 1)
    assert time.perf_counter() - started < 0.1


def test_an_abandoned_request_is_skipped_and_not_passed_to_execute(batcher_for, events):
    model, batcher = gated(batcher_for, max_batch_size=8, max_latency_ms=0)
    blocker = events.submit(batcher, "blocker")
    assert model.entered.wait(5)
    late = events.submit(batcher, "late")
    with pytest.raises(RequestTimeout):
        events.wait(batcher, late, timeout=0.05)
    kept = events.submit(batcher, "kept")
    model.gate.set()
    assert (
        events.wait(batcher, blocker, 5) == "answer:blocker"
        and events.wait(batcher, kept, 5) == "answer:kept"
    )
    assert model.batches == [["blocker"], ["kept"]]


def test_stop_answers_everything_queued_then_refuses_new_requests(batcher_for, events):
    model, batcher = gated(batcher_for, max_batch_size=2, max_latency_ms=0)
    jobs = [events.submit(batcher, f"job{index}") for index in range(5)]
    assert model.entered.wait(5)
    stopper = threading.Thread(target=batcher.stop, kwargs={"timeout": 10})
    stopper.start()
    deadline = time.monotonic() + 5
    while batcher.alive and time.monotonic() < deadline:
        time.sleep(0.001)
    with pytest.raises(ShuttingDown):
        events.submit(batcher, "too late")
    model.gate.set()
    stopper.join(10)
    assert [events.wait(batcher, job, 5) for job in jobs] == [f"answer:job{index}" for index in range(5)]
    assert not stopper.is_alive()


def test_the_wait_for_company_ends_as_soon_as_the_batch_can_fill(batcher_for, events):
    model = Recorder()
    batcher = batcher_for(model, max_batch_size=2, max_latency_ms=5000)
    for _ in range(3):
        batcher.announce()  # more on the way than fit: the batch fills without waiting 5 s
    started = time.perf_counter()
    first = events.submit(batcher, "first", announced=True)
    second = events.submit(batcher, "second", announced=True)
    assert (events.wait(batcher, first, 5), events.wait(batcher, second, 5)) == (
        "answer:first",
        "answer:second",
    )
    assert time.perf_counter() - started < 1
    assert model.batches == [["first", "second"]]
    batcher.withdraw()


def test_the_wait_for_company_ends_when_the_announced_request_withdraws(batcher_for, events):
    model = Recorder()
    batcher = batcher_for(model, max_latency_ms=5000)
    batcher.announce()
    started = time.perf_counter()
    first = events.submit(batcher, "first")
    time.sleep(0.05)
    batcher.withdraw()  # e.g. its body was too large: nobody else is coming
    assert events.wait(batcher, first, 5) == "answer:first"
    assert time.perf_counter() - started < 1


def test_a_request_that_gave_up_inside_a_batch_does_not_hold_back_the_others(batcher_for, events):
    """Each answered request wakes the next ones of its batch; one that timed out is skipped."""

    class TwoBatches:
        def __init__(self):
            self.entered = [threading.Event(), threading.Event()]
            self.gates = [threading.Event(), threading.Event()]
            self.sizes = []

        def execute(self, data, batch_size):
            which = 0 if data == ["blocker"] else 1
            self.entered[which].set()
            self.gates[which].wait(10)
            self.sizes.append(batch_size)
            return [f"answer:{item}" for item in data]

    model = TwoBatches()
    batcher = batcher_for(model, max_batch_size=16, max_latency_ms=0)
    blocker = events.submit(batcher, "blocker")
    assert model.entered[0].wait(5)
    jobs = [events.submit(batcher, f"job{index}") for index in range(15)]
    model.gates[0].set()
    assert events.wait(batcher, blocker, 5) == "answer:blocker"
    assert model.entered[1].wait(5)
    with pytest.raises(RequestTimeout):  # the job the loop wakes first gives up before its answer
        events.wait(batcher, jobs[0], timeout=0.01)
    model.gates[1].set()
    assert [events.wait(batcher, job, 5) for job in jobs[1:]] == [
        f"answer:job{index}" for index in range(1, 15)
    ]
    assert model.sizes == [1, 15]


# -- requests on an event loop, as the server runs them --------------------------------------------


async def gather_on_loop(batcher, names, timeout=10.0):
    """Submit every name from coroutines of one event loop at once; returns name -> (answer, batch)."""
    loop = asyncio.get_running_loop()

    async def one(name):
        job = batcher.submit(name, False, loop)
        return name, (await batcher.wait_async(job, timeout), job.batch_size)

    return dict(await asyncio.gather(*(one(name) for name in names)))


def test_coroutines_of_one_event_loop_are_batched_and_each_gets_its_own_answer(batcher_for):
    model = Recorder(delay=0.01)
    batcher = batcher_for(model, max_batch_size=8, max_latency_ms=0)
    names = [f"coroutine{index}" for index in range(40)]
    answers = asyncio.run(gather_on_loop(batcher, names))
    assert all(answer == f"answer:{name}" for name, (answer, _) in answers.items()) and len(answers) == 40
    sizes = [len(batch) for batch in model.batches]
    assert sum(sizes) == 40 and max(sizes) == 8 and len(sizes) < 40
    size_of = {name: len(batch) for batch in model.batches for name in batch}
    assert all(size == size_of[name] for name, (_, size) in answers.items())


def test_event_loops_of_several_threads_share_one_loop_and_keep_their_answers(batcher_for):
    """Four threads, each with its own event loop (as `workers` share nothing, but here one
    batcher): a batch mixing their jobs answers each loop's jobs on that loop."""
    model = Recorder(delay=0.005)
    batcher = batcher_for(model, max_batch_size=16, max_latency_ms=1)
    results: dict[int, dict] = {}
    barrier = threading.Barrier(4)

    def thread_main(index):
        barrier.wait(5)
        results[index] = asyncio.run(gather_on_loop(batcher, [f"t{index}-{n}" for n in range(25)]))

    threads = [threading.Thread(target=thread_main, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1, 2, 3]
    for answers in results.values():
        assert all(answer == f"answer:{name}" for name, (answer, _) in answers.items())
    assert any(len({item.split("-")[0] for item in batch}) > 1 for batch in model.batches)


async def submit_blocker(batcher, model):
    """On this event loop, submit "blocker" and wait until execute holds it at the model's
    closed gate; returns (loop, blocker job)."""
    loop = asyncio.get_running_loop()
    blocker = batcher.submit("blocker", False, loop)
    await asyncio.to_thread(model.entered.wait, 5)
    return loop, blocker


def test_on_an_event_loop_a_late_request_gets_504_and_is_not_run(batcher_for):
    model, batcher = gated(batcher_for)

    async def scenario():
        loop, blocker = await submit_blocker(batcher, model)
        late = batcher.submit("late", False, loop)
        with pytest.raises(RequestTimeout):
            await batcher.wait_async(late, 0.05)
        model.gate.set()
        kept = batcher.submit("kept", False, loop)
        return await batcher.wait_async(blocker, 5), await batcher.wait_async(kept, 5)

    assert asyncio.run(scenario()) == ("answer:blocker", "answer:kept")
    assert ["late"] not in model.batches


def test_a_cancelled_waiter_abandons_its_job(batcher_for, events):
    model, batcher = gated(batcher_for)

    async def scenario():
        loop, blocker = await submit_blocker(batcher, model)
        gone = batcher.submit("gone", False, loop)
        waiter = asyncio.ensure_future(batcher.wait_async(gone, 5))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        model.gate.set()
        return await batcher.wait_async(blocker, 5), gone.abandoned

    assert asyncio.run(scenario()) == ("answer:blocker", True)
    events.infer(batcher, "after", timeout=5)
    assert ["gone"] not in model.batches
