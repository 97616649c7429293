"""Overload, open loop, on the real server (gunicorn on 127.0.0.1): at 3x a model's capacity
the goodput stays near capacity, nothing waits into a 504, and execute runs no request that
was not answered. `python -m bench.overload` measures the whole curve (RELIABILITY.md)."""

from __future__ import annotations

import argparse

import pytest

from bench import overload

pytestmark = pytest.mark.slow


def test_three_times_capacity_keeps_goodput_near_capacity_and_refuses_the_rest_at_once():
    args = argparse.Namespace(
        per_item=0.02, duration=4.0, request_timeout=1.0, queue_size=1024, max_batch_size=4
    )
    level = overload.measure(overload.SERVER_ROOT, 3.0, args)
    answered = sum(level.statuses.values())
    figures = (level.statuses, level.executed, level.percentile(0.99))
    assert answered == int(3 * 50 * 4.0), figures
    assert level.rate("200") > 0.7 * 50, figures  # capacity: 50 requests/s
    assert level.statuses.get("503", 0) > 0.4 * answered, figures
    assert level.statuses.get("504", 0) <= 0.02 * answered, figures
    assert level.executed <= level.statuses["200"] * 1.02 + 1, figures
    assert level.percentile(0.99) < 1500, figures  # the timeout is 1 s: no 200 comes much later
