"""The real thing: the UAI start command under gunicorn on 127.0.0.1 (a few seconds in all)."""

import re
import signal
import threading
import time

import pytest
import requests

from server.support import write_project
from server.test_loading import KERAS_CONF, KERAS_FILES, UAI_KERAS_MODULE

pytestmark = pytest.mark.slow

SLOW_MODULE = """
import os
import time
from uai.arch.base_model import AiUcloudModel


class Slow(AiUcloudModel):
    def load_model(self):
        time.sleep(float(os.environ.get("TEST_LOAD_SECONDS", "0")))

    def execute(self, data, batch_size):
        time.sleep(float(os.environ.get("TEST_EXECUTE_SECONDS", "0")))
        return ["pid%d:%s" % (os.getpid(), item.body.decode()) for item in data]
"""
SLOW_CONF = {
    "http_server": {"exec": {"main_class": "Slow", "main_file": "slow_model"}},
    "server": {"max_batch_size": 2, "max_latency_ms": 0},
}


def get(server, path):
    """GET, or None while the server cannot answer (not listening yet, or a worker still booting
    on a loaded machine: a read timeout)."""
    try:
        return requests.get(server.url + path, timeout=2)
    except (requests.ConnectionError, requests.Timeout):
        return None


def test_the_uai_start_command_serves_a_uai_keras_class_unchanged(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, UAI_KERAS_MODULE, KERAS_CONF, KERAS_FILES))
    server.wait_until(lambda: (r := get(server, "/initialized")) is not None and r.text == "YES", what="YES")
    answer = requests.post(server.url + "/service", data=b"12345", timeout=5)
    assert (answer.status_code, answer.text) == (200, "5:seven")
    # access lines are written in bulk every 50 ms
    server.wait_until(
        lambda: re.search(r"access: POST /service 200 [\d.]+ms batch=1", server.log()),
        timeout=2,
        what="the access line",
    )


def test_readiness_comes_only_after_the_model_has_loaded(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, SLOW_MODULE, SLOW_CONF), TEST_LOAD_SECONDS="1.5")
    server.wait_until(lambda: get(server, "/healthz"), what="the server to listen")
    assert get(server, "/initialized").text == "NO"
    assert get(server, "/readyz").status_code == 503
    assert requests.post(server.url + "/service", data=b"x", timeout=5).status_code == 503
    server.wait_until(lambda: get(server, "/readyz").status_code == 200, what="ready")
    assert get(server, "/initialized").text == "YES"
    assert requests.post(server.url + "/service", data=b"x", timeout=5).text.endswith(":x")
    assert "uai_model_load_seconds{" in get(server, "/metrics").text


def test_sigterm_answers_every_accepted_request_then_exits_zero(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, SLOW_MODULE, SLOW_CONF), TEST_EXECUTE_SECONDS="0.3")
    server.wait_until(
        lambda: (r := get(server, "/readyz")) is not None and r.status_code == 200, what="ready"
    )
    answers: dict[int, requests.Response | Exception] = {}

    def client(index):
        try:
            answers[index] = requests.post(server.url + "/service", data=str(index).encode(), timeout=20)
        except requests.RequestException as error:
            answers[index] = error

    threads = [threading.Thread(target=client, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    # 2 run, 6 wait: the batches take about 4 x 0.3 s, so SIGTERM arrives with a full queue.
    server.wait_until(
        lambda: (
            "uai_queue_depth " in (text := get(server, "/metrics").text)
            and float(re.search(r"^uai_queue_depth (\S+)$", text, re.M).group(1)) >= 5
        ),
        what="a full queue",
    )
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(20)
    code = server.process.wait(timeout=20)
    assert {index: getattr(answer, "status_code", answer) for index, answer in answers.items()} == {
        index: 200 for index in range(8)
    }
    assert all(answer.text.endswith(f":{index}") for index, answer in answers.items())
    assert code == 0 and time.monotonic() - started < 10
    # a clean stop: the worker exits by itself after its access lines, and nothing says error
    # (not gunicorn's "was sent SIGTERM", nor "Error while closing socket")
    log = server.log()
    assert "error" not in log.lower() and "Worker exiting" in log
    assert len(re.findall(r"access: POST /service 200 ", log)) == 8


def test_a_failing_load_stops_gunicorn_non_zero_with_one_clear_line(tmp_path, gunicorn):
    conf = {
        "http_server": {
            "exec": {"main_class": "MnistModel", "main_file": "mnist_inferenc"},
            "keras": KERAS_CONF["http_server"]["keras"],
        }
    }
    conf_file = write_project(
        tmp_path, UAI_KERAS_MODULE, {"http_server": {"exec": {"main_file": "mnist_inference"}}}, KERAS_FILES
    )
    conf_file.write_text(__import__("json").dumps(conf))
    server = gunicorn(conf_file)
    code = server.process.wait(timeout=20)
    log = server.log()
    lines = [line for line in log.splitlines() if "model load failed:" in line]
    assert code != 0
    assert len(lines) == 1
    assert lines[0].endswith(
        f"model load failed: http_server.exec.main_file 'mnist_inferenc': "
        f"no module named mnist_inferenc under {tmp_path / 'code'}"
    )
    assert "Traceback" in log.split(lines[0], 1)[1]


def test_an_unusable_conf_stops_gunicorn_before_it_listens(tmp_path, gunicorn):
    conf_file = tmp_path / "conf.json"
    conf_file.write_text('{"http_server": {"exec": {}}, "server": {"workers": "two"}}')
    (tmp_path / "code").mkdir()
    server = gunicorn(conf_file)
    assert server.process.wait(timeout=20) != 0
    assert "model load failed: server.workers = 'two' is not a whole number" in server.log()


def test_many_keep_alive_connections_are_served_in_batches_each_with_its_own_answer(tmp_path, gunicorn):
    """Six keep-alive clients at once on one event loop: every request gets its own answer,
    and requests of different connections share execute calls."""
    server = gunicorn(write_project(tmp_path, SLOW_MODULE, SLOW_CONF), TEST_EXECUTE_SECONDS="0.01")
    server.wait_until(
        lambda: (r := get(server, "/readyz")) is not None and r.status_code == 200, what="ready"
    )
    answers: dict[tuple[int, int], str | Exception] = {}

    def client(index):
        with requests.Session() as session:  # one keep-alive connection per client
            for number in range(20):
                try:
                    body = f"{index}-{number}".encode()
                    reply = session.post(server.url + "/service", data=body, timeout=10)
                    answers[index, number] = reply.text
                except requests.RequestException as error:
                    answers[index, number] = error

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(
        isinstance(answer, str) and answer.endswith(f":{index}-{number}")
        for (index, number), answer in answers.items()
    )
    assert len(answers) == 120 and time.monotonic() - started < 20
    server.wait_until(lambda: server.log().count("access: POST /service") == 120, timeout=2, what="lines")
    assert "batch=2" in server.log()
