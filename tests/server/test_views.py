"""The HTTP interface through Django's test client: routes, result types, limits, error mapping."""

import io
import json
import logging
import threading
import time

import numpy as np
import pytest
from django.test import Client
from httpserver import runtime as runtime_module
from httpserver.config import ServerSettings
from httpserver.loading import FAILED, ModelHost


class Echo:
    """Answers each input with its own body as text; remembers what execute saw."""

    def __init__(self):
        self.seen = []

    def execute(self, data, batch_size):
        self.seen.append(list(data))
        return [item.read().decode() for item in data]


class Returns:
    """Answers every input with a fixed value."""

    def __init__(self, value):
        self.value = value

    def execute(self, data, batch_size):
        return [self.value] * batch_size


class Gate:
    """execute blocks until `release` is set, so tests can fill the queue or time out."""

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()

    def execute(self, data, batch_size):
        self.entered.set()
        self.release.wait(10)
        return ["done"] * batch_size


@pytest.fixture
def client():
    return Client()


def post(client, body=b"", content_type="application/octet-stream", **headers):
    return client.post("/service", data=body, content_type=content_type, headers=headers)


def test_post_service_answers_the_raw_body_through_execute_as_text(serve, client):
    serve(Echo())
    response = post(client, b"hello", "text/plain")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"hello"


def test_each_input_reads_like_a_file_and_carries_body_content_type_and_headers(serve, client):
    model = Echo()
    serve(model)
    post(client, b"\x89PNG data", "image/png", **{"X-Request-Id": "abc"})
    (item,) = model.seen[0]
    assert isinstance(item, io.BytesIO)
    assert item.body == b"\x89PNG data" and item.content_type == "image/png"
    assert item.headers["x-request-id"] == "abc"
    item.seek(0)
    assert item.read(4) == b"\x89PNG"


@pytest.mark.parametrize(
    ("value", "content_type", "body"),
    [
        ("text", "text/plain; charset=utf-8", b"text"),
        (b"\x00\x01", "application/octet-stream", b"\x00\x01"),
        ({"label": 7, "p": [0.5]}, "application/json", b'{"label":7,"p":[0.5]}'),
        ([1, 2], "application/json", b"[1,2]"),
        (3.5, "application/json", b"3.5"),
        (np.arange(3, dtype=np.float32), "application/json", b"[0.0,1.0,2.0]"),
        ({"n": np.int64(4)}, "application/json", b'{"n":4}'),
    ],
)
def test_results_are_sent_with_the_content_type_their_type_implies(serve, client, value, content_type, body):
    serve(Returns(value))
    response = post(client, b"x")
    assert (response.status_code, response["Content-Type"], response.content) == (200, content_type, body)


def test_the_uai_body_status_headers_tuple_is_honoured(serve, client):
    serve(Returns(("not a digit", 422, {"X-Reason": "blurry", "Content-Type": "text/csv"})))
    response = post(client, b"x")
    assert response.status_code == 422
    assert response["X-Reason"] == "blurry" and response["Content-Type"] == "text/csv"
    assert response.content == b"not a digit"


def test_unknown_paths_and_wrong_methods_get_short_json_errors(serve, client):
    serve(Echo())
    missing = client.get("/predict")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = client.get("/service")
    assert (
        wrong.status_code == 405
        and wrong["Allow"] == "POST"
        and wrong.json()["error"] == "method_not_allowed"
    )
    assert client.post("/healthz").status_code == 405


def test_a_body_over_the_limit_is_refused_with_413_and_one_at_the_limit_is_served(serve, client):
    serve(Echo(), max_body_bytes=10)
    assert post(client, b"x" * 10).status_code == 200
    too_big = post(client, b"x" * 11)
    assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"


def test_a_full_queue_is_answered_503_with_retry_after(serve):
    gate = Gate()
    serve(gate, queue_size=1, max_latency_ms=0)
    answers = []
    first = threading.Thread(target=lambda: answers.append(post(Client(), b"a")))
    first.start()
    assert gate.entered.wait(5)  # the first request is inside execute
    second = threading.Thread(target=lambda: answers.append(post(Client(), b"b")))
    second.start()
    deadline = time.monotonic() + 5
    while runtime_module.current().batcher.depth < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    busy = post(Client(), b"c")
    gate.release.set()
    first.join(5)
    second.join(5)
    assert busy.status_code == 503 and busy["Retry-After"] == "1"
    assert busy.json()["error"] == "busy"
    assert sorted(answer.status_code for answer in answers) == [200, 200]


def test_a_request_waiting_past_its_timeout_gets_504_and_the_server_goes_on(serve, client):
    gate = Gate()
    serve(gate, request_timeout_s=0.2)
    started = time.monotonic()
    late = post(client, b"x")
    assert late.status_code == 504 and late.json()["error"] == "timeout"
    assert time.monotonic() - started < 2
    gate.release.set()
    assert post(client, b"y").content == b"done"


def test_execute_raising_fails_that_batch_with_500_without_a_traceback_and_the_server_goes_on(
    serve, client, caplog
):
    class FailsOnce:
        calls = 0

        def execute(self, data, batch_size):
            self.calls += 1
            if self.calls == 1:
                raise ValueError("bad pixel")
            return ["ok"] * batch_size

    serve(FailsOnce())
    with caplog.at_level(logging.ERROR, logger="httpserver.batching"):
        failed = post(client, b"x")
    assert failed.status_code == 500 and failed.json()["error"] == "execute_failed"
    assert b"Traceback" not in failed.content and b"bad pixel" not in failed.content
    assert any(record.exc_info and "bad pixel" in str(record.exc_info[1]) for record in caplog.records)
    assert post(client, b"y").content == b"ok"


def test_a_result_list_of_the_wrong_length_is_500_with_a_log_line_saying_so(serve, client, caplog):
    serve(type("TooMany", (), {"execute": lambda self, data, n: ["a", "b"]})())
    with caplog.at_level(logging.ERROR, logger="httpserver.batching"):
        response = post(client, b"x")
    assert response.status_code == 500 and response.json()["error"] == "bad_result"
    assert "execute returned 2 results for a batch of 1 requests" in caplog.text


def test_a_result_the_server_cannot_send_is_500_with_a_log_line(serve, client, caplog):
    serve(Returns(object()))
    with caplog.at_level(logging.ERROR, logger="httpserver.views"):
        response = post(client, b"x")
    assert response.status_code == 500 and response.json()["error"] == "bad_result"
    assert "cannot send a result of type object" in caplog.text


def test_while_the_model_loads_initialized_says_no_and_readyz_and_service_answer_503(client):
    host = ModelHost()  # no instance yet: status "loading"
    runtime = runtime_module.Runtime(ServerSettings(), host)
    runtime.batcher.start()
    previous = runtime_module.install(runtime)
    try:
        assert client.get("/initialized").content == b"NO"
        assert client.get("/healthz").status_code == 200
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["status"] == "loading"
        assert post(client, b"x").status_code == 503
        host.status = FAILED
        assert client.get("/readyz").json()["status"] == "failed"
        assert post(client, b"x").json()["error"] == "model_failed"
    finally:
        runtime.stop(timeout=5)
        runtime_module.install(previous)


def test_once_loaded_initialized_says_yes_and_readyz_200_until_the_loop_stops(serve, client):
    runtime = serve(Echo())
    assert client.get("/initialized").content == b"YES"
    assert client.get("/readyz").status_code == 200
    runtime.stop(timeout=5)
    assert client.get("/readyz").status_code == 503
    stopped = post(client, b"x")
    assert stopped.status_code == 503 and stopped.json()["error"] == "shutting_down"


def test_responses_carry_a_content_length_so_keep_alive_clients_need_no_chunking(serve, client):
    serve(Returns({"a": 1}))
    response = post(client, b"x")
    assert response["Content-Length"] == str(len(response.content))
    assert json.loads(response.content) == {"a": 1}
