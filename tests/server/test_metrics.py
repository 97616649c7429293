"""/metrics by prometheus-client: one scrape reports every gunicorn worker (real gunicorn, 2
workers, about 5 s), the text parses with the client's own parser, and the shared directory is
new at every start and gone after it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests
from httpserver import metrics, multiprocess
from httpserver.version import runtime_info
from prometheus_client.parser import text_string_to_metric_families

from server.support import write_project

PID_MODULE = """
import os
from uai.arch.base_model import AiUcloudModel


class Pid(AiUcloudModel):
    def load_model(self):
        pass

    def execute(self, data, batch_size):
        return [str(os.getpid()) for _ in data]
"""
PID_CONF = {"http_server": {"exec": {"main_class": "Pid", "main_file": "pid_model"}}}


def scrape(server) -> dict[str, list]:
    """One scrape, parsed by prometheus-client's parser: {family name: [samples]}."""
    text = requests.get(server.url + "/metrics", timeout=5).text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list, **labels: str) -> float:
    return sum(sample.value for sample in samples if labels.items() <= sample.labels.items())


def workers_of(server) -> set[int]:
    return set(server.worker_pids())


@pytest.mark.slow
def test_one_scrape_counts_every_request_of_both_workers_and_drops_an_exited_worker(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, PID_MODULE, PID_CONF), UAI_WORKERS="2")
    server.wait_until(lambda: len(workers_of(server)) == 2, what="two workers")
    ready = lambda: _ready_workers(server) == 2  # noqa: E731
    server.wait_until(lambda: _answers(server) and ready(), what="both workers ready")
    before = value(scrape(server)["uai_requests"], path="/service", status="200")
    served: list[str] = []
    while len(served) < 40 or len(set(served)) < 2 and len(served) < 400:  # one connection each
        served.append(requests.post(server.url + "/service", data=b"x", timeout=5).text)
    assert set(served) == {str(pid) for pid in workers_of(server)}  # both processes answered
    time.sleep(metrics.PUBLISH_INTERVAL_S + 0.3)  # the worker that does not answer has published
    families = scrape(server)
    assert value(families["uai_requests"], path="/service", status="200") - before == len(served)
    latency = families["uai_request_duration_seconds"]
    assert value([sample for sample in latency if sample.name.endswith("_count")]) >= len(served)
    assert {sample.labels["pid"] for sample in families["uai_model_ready"]} == set(served)
    assert {sample.labels["pid"] for sample in families["process_resident_memory_bytes"]} == set(served)
    assert families["uaipack_build_info"][0].labels["version"] == runtime_info()["version"]
    assert "python_info" in families

    killed = int(served[0])
    os.kill(killed, signal.SIGKILL)
    server.wait_until(
        lambda: killed not in workers_of(server) and len(workers_of(server)) == 2, what="a new one"
    )
    server.wait_until(ready, what="the new worker ready")
    families = scrape(server)
    assert str(killed) not in {sample.labels["pid"] for sample in families["uai_model_ready"]}
    assert value(families["uai_requests"], path="/service", status="200") - before >= len(served)  # kept


def _answers(server) -> bool:
    """Whether the server answers yet (a worker still booting on a loaded machine may not)."""
    try:
        return requests.get(server.url + "/healthz", timeout=5).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


def _ready_workers(server) -> float:
    try:
        return value(scrape(server).get("uai_model_ready", []))
    except (requests.ConnectionError, requests.Timeout):
        return 0


@pytest.mark.slow
def test_the_shared_directory_is_new_at_every_start_and_removed_at_exit(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, PID_MODULE, PID_CONF))
    server.wait_until(lambda: _answers(server), what="the server")
    directory = Path(f"/dev/shm/uai-metrics-{server.process.pid}")
    # the worker's files appear with its first publish, a second after it starts
    server.wait_until(lambda: any(directory.glob("*.db")), timeout=30, what="the worker's metric files")
    server.stop()
    assert not directory.exists()


def test_prepare_makes_a_fresh_directory_drops_dead_servers_or_empties_the_one_given(tmp_path, monkeypatch):
    monkeypatch.setattr(multiprocess, "_prepared", None)
    monkeypatch.setattr(multiprocess, "_made", None)
    killed = Path("/dev/shm/uai-metrics-4194305")  # above Linux's largest pid: no such master
    killed.mkdir(exist_ok=True)
    environ: dict[str, str] = {}
    made = multiprocess.prepare(environ)
    assert not killed.exists()  # a server killed without its on_exit left it
    assert environ[multiprocess.ENV] == str(made) and made.is_dir() and not any(made.iterdir())
    assert made.parent == Path("/dev/shm") and made.name == f"uai-metrics-{os.getpid()}"
    (made / "counter_1.db").write_bytes(b"stale")
    assert multiprocess.prepare(environ) == made and (made / "counter_1.db").exists()  # a reload
    multiprocess.on_exit(None)
    assert not made.exists()

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_7.db").write_bytes(b"stale")
    (given / "keep.txt").write_text("not a metrics file")
    monkeypatch.setattr(multiprocess, "_prepared", None)
    monkeypatch.setattr(multiprocess, "_made", None)
    assert multiprocess.prepare({multiprocess.ENV: str(given)}) == given
    assert sorted(path.name for path in given.iterdir()) == ["keep.txt"]
    multiprocess.on_exit(None)
    assert given.exists()  # an operator's directory stays


def test_counts_published_in_bulk_render_as_the_clients_own_observations_would():
    """`BulkHistogram.add` relies on the client's internals (pinned): the same observations,
    one by one into a plain client histogram, must give the same samples."""
    from prometheus_client import CollectorRegistry, Histogram

    observed = [0.0004, 0.003, 0.003, 0.2, 7.0, 99.0]
    ours = metrics.Metrics()
    for seconds in observed:
        ours.observe_request("/service", 200, seconds)
    registry = CollectorRegistry()
    plain = Histogram("uai_request_duration_seconds", "x", buckets=metrics.LATENCY_BUCKETS, registry=registry)
    for seconds in observed:
        plain.observe(seconds)
    expected = [
        (sample.name, sample.labels, sample.value)
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    ]
    families = {family.name: family.samples for family in text_string_to_metric_families(ours.render())}
    got = [(sample.name, sample.labels, sample.value) for sample in families["uai_request_duration_seconds"]]
    assert got == expected
    ours.observe_request("/service", 200, 0.003)  # counted after a publish: published next time
    families = {family.name: family.samples for family in text_string_to_metric_families(ours.render())}
    assert value(families["uai_requests"], path="/service", status="200") == len(observed) + 1
