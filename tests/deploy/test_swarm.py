"""On a real swarm, under continuous load through a real load balancer, no request fails:
a rolling update, scaling 3 -> 1 -> 3, an update that rolls back by itself; and a canary of
one task in three gets about a third of the requests.

bench.swarm builds the lab (its docstring says how) and runs each scenario; these tests
assert on what it counted. The engine is put in swarm mode only if it was in none, and
leaves it at the end, failed test or not; a swarm that was there already makes these tests
fail in CI (they must run there) and skip elsewhere.
"""

from __future__ import annotations

import os
import time

import pytest

from bench import swarm

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.xdist_group("swarm")]


@pytest.fixture(scope="module")
def lab(docker_client):
    lab = swarm.Lab(say=lambda message: print(message, flush=True))
    try:
        lab.__enter__()
    except swarm.SwarmTaken as taken:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{taken} — CI must run the Swarm tests", pytrace=False)
        pytest.skip(str(taken))
    try:
        yield lab
    finally:
        lab.__exit__(None, None, None)


@pytest.fixture(scope="module")
def load(lab):
    with swarm.Load(lab.port) as running:
        yield running


def no_failure(figures: swarm.Figures, least: int = 300) -> None:
    assert figures.failed == 0, figures.window.failures
    assert figures.requests >= least, f"the load stalled: {figures.requests} requests"


def test_three_replicas_from_the_authenticated_registry_serve_behind_the_load_balancer(lab, load):
    service = lab.client.services.get(f"{lab.stack}_model")
    image = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image == lab.images["v1"] and image.startswith(lab.registry.address + "/")
    assert service.attrs["Spec"]["EndpointSpec"]["Mode"] == "dnsrr"
    with load.window() as window:
        deadline = time.monotonic() + 60
        while window.requests < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert window.failed == 0, window.failures
    assert len([server for server in window.served_by if server.startswith("model")]) == swarm.REPLICAS


def test_a_rolling_update_to_a_model_that_loads_for_seconds_fails_no_request(lab, load):
    figures = swarm.rolling_update(lab, load)
    assert figures.outcome == "updated"
    assert lab.model_image() == lab.images["slow"]
    no_failure(figures)


def test_scaling_three_to_one_to_three_fails_no_request(lab, load):
    figures = swarm.scale_down_and_up(lab, load)
    assert not figures.outcome.startswith("FAILED"), figures.outcome
    no_failure(figures)


def test_an_update_to_a_model_that_fails_to_load_rolls_back_by_itself_and_fails_no_request(lab, load):
    before = lab.model_image()
    figures = swarm.failed_update(lab, load)
    assert figures.outcome == "rolled back by itself"
    assert lab.model_image() == before
    no_failure(figures)


def test_a_canary_of_one_task_in_three_gets_about_a_third_of_the_requests(lab, load):
    figures = swarm.canary(lab, load)
    assert not figures.outcome.startswith("FAILED"), figures.outcome
    assert abs(figures.window.share("canary") - 1 / 3) < 0.08, figures.window.served_by
    no_failure(figures)
    assert load.total.requests >= 2000 and load.total.failed == 0, load.total.failures
