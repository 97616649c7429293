"""What a result cannot break: NaN and Infinity are sent as JSON null, and the framing headers
(Content-Length, Transfer-Encoding, Connection) stay the server's; in the view and for real."""

import http.client
import json
import logging
import math

import numpy as np
import pytest
from httpserver import results
from httpserver.errors import BadResult
from httpserver.results import encode_body, to_response

from server.support import write_project
from server.test_gunicorn import get

NAN, INF = float("nan"), float("inf")


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test sees the once-per-process warnings as a new process would."""
    monkeypatch.setattr(results, "_warned", set())


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (NAN, None),
        (-INF, None),
        ([1.0, NAN, INF, -INF], [1.0, None, None, None]),
        (
            {"a": {"b": [NAN, {"c": (INF, 2)}]}, "s": "NaN"},
            {"a": {"b": [None, {"c": [None, 2]}]}, "s": "NaN"},
        ),
        (np.array([[1.0, np.nan], [np.inf, 2.0]]), [[1.0, None], [None, 2.0]]),
        (np.float32("nan"), None),
        (
            {"scores": np.array([np.nan, 0.5], dtype=np.float32), "n": np.int64(3)},
            {"scores": [None, 0.5], "n": 3},
        ),
    ],
)
def test_nan_and_infinity_are_sent_as_null_in_valid_json(value, sent):
    body, content_type = encode_body(value)
    assert content_type == "application/json"
    assert json.loads(body, parse_constant=lambda token: pytest.fail(f"{token} is not JSON")) == sent


def test_a_result_with_nan_warns_once_per_process(caplog):
    with caplog.at_level(logging.WARNING, logger="httpserver.results"):
        encode_body([NAN])
        encode_body({"x": INF})
    warnings = [record.getMessage() for record in caplog.records if record.name == "httpserver.results"]
    assert len(warnings) == 1 and "NaN or Infinity" in warnings[0] and "null" in warnings[0]


def test_a_finite_result_is_encoded_by_the_fast_path_unchanged():
    value = {"class": 2, "scores": np.arange(3) / 4, "ok": True, "none": None}
    assert encode_body(value)[0] == '{"class":2,"scores":[0.0,0.25,0.5],"ok":true,"none":null}'
    assert math.isnan(json.loads(json.dumps(NAN)))  # the stdlib would have written NaN


def test_a_result_too_deep_or_circular_is_a_bad_result_not_a_crash():
    circular: list = []
    circular.append(circular)
    for value in (circular, [NAN, circular]):
        with pytest.raises(BadResult, match="cannot send a result of type list"):
            encode_body(value)


@pytest.mark.parametrize("name", ["Content-Length", "content-length", "Transfer-Encoding", "CONNECTION"])
def test_framing_headers_of_a_result_tuple_are_dropped_with_one_warning_naming_them(name, caplog):
    with caplog.at_level(logging.WARNING, logger="httpserver.results"):
        for _ in range(3):
            response = to_response(("hello", 201, {name: "999", "X-Model": "v2"}))
            assert response["Content-Length"] == "5" and response["X-Model"] == "v2"
            assert response.status_code == 201 and response.content == b"hello"
            assert name.lower() not in {header.lower() for header in response} - {"content-length"}
    warnings = [record.getMessage() for record in caplog.records if record.name == "httpserver.results"]
    assert len(warnings) == 1 and name in warnings[0]


def test_a_204_or_304_is_sent_without_a_body_and_an_interim_status_is_a_bad_result():
    for status in (204, 304):
        response = to_response(("ignored", status, {"ETag": "x"}))
        assert (response.status_code, response.content, response["ETag"]) == (status, b"", "x")
        assert not response.has_header("Content-Length")
    for status in (100, 101, 199, 600):
        with pytest.raises(BadResult, match="status 200-599"):
            to_response(("x", status))


def test_a_header_value_django_cannot_send_is_a_bad_result():
    with pytest.raises(BadResult, match="header 'X-Note' cannot be sent"):
        to_response(("x", 200, {"X-Note": "two\nlines"}))


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/xml"])
def test_a_content_type_the_result_chose_is_served_sandboxed_and_not_sniffed(content_type):
    response = to_response(("<svg onload=alert(1)>", 200, {"Content-Type": content_type}))
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_servers_own_types_stay_unconfined_and_a_users_policy_wins():
    plain = to_response(("text", 200, {"X-Model": "v2"}))
    assert "Content-Security-Policy" not in plain and "X-Content-Type-Options" not in plain
    assert "Content-Security-Policy" not in to_response({"a": 1})
    own = to_response(
        ("<p>", 200, {"Content-Type": "text/html", "Content-Security-Policy": "default-src 'none'"})
    )
    assert own["Content-Security-Policy"] == "default-src 'none'"


HOSTILE_RESULTS = """
import numpy as np
from uai.arch.base_model import AiUcloudModel

ANSWERS = {
    "short": ("hello world", 200, {"Content-Length": "2"}),
    "long": ("hi", 200, {"content-length": "100"}),
    "chunked": ("chunky", 200, {"Transfer-Encoding": "chunked"}),
    "close": ("still open", 200, {"Connection": "close"}),
    "nan": {"v": float("nan"), "a": np.array([1.0, np.nan, np.inf])},
    "no-content": ("a body HTTP does not allow", 204, {}),
    "not-modified": ("nor here", 304, {"ETag": '"v1"'}),
}


class Hostile(AiUcloudModel):
    def load_model(self):
        return None

    def execute(self, data, batch_size):
        return [ANSWERS[item.body.decode()] for item in data]
"""
HOSTILE_CONF = {"http_server": {"exec": {"main_class": "Hostile", "main_file": "hostile"}}}
EXPECTED = {
    "short": b"hello world",
    "long": b"hi",
    "chunked": b"chunky",
    "close": b"still open",
    "nan": b'{"v":null,"a":[1.0,null,null]}',
    "no-content": b"",
    "not-modified": b"",
}


STATUS = {"no-content": 204, "not-modified": 304}


@pytest.mark.slow
def test_under_gunicorn_every_answer_is_complete_on_one_keep_alive_connection(tmp_path, gunicorn):
    server = gunicorn(write_project(tmp_path, HOSTILE_RESULTS, HOSTILE_CONF))
    server.wait_until(lambda: getattr(get(server, "/readyz"), "status_code", 0) == 200, what="ready")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for _ in range(2):
            for name, expected in EXPECTED.items():
                connection.request("POST", "/service", body=name.encode())
                response = connection.getresponse()
                body = response.read()  # a wrong Content-Length would stall or cut this
                assert (response.status, body) == (STATUS.get(name, 200), expected), name
                length = None if name in STATUS else str(len(expected))  # none on a 204 or 304
                assert response.getheader("Content-Length") == length, name
                assert response.getheader("Transfer-Encoding") is None and not response.will_close, name
                if name == "nan":
                    assert response.getheader("Content-Type") == "application/json"
                    assert json.loads(body) == {"v": None, "a": [1.0, None, None]}
    finally:
        connection.close()
    server.wait_until(lambda: server.log().count("access: POST /service 200") == 10, timeout=5, what="lines")
    log = server.log().lower()  # once per header whatever its case ("short" and "long" share one)
    for header in ("content-length", "transfer-encoding", "connection"):
        assert log.count(f"set the {header} header, which the server owns; dropped") == 1, header
    assert log.count("a result held nan or infinity") == 1
    assert log.count("a 204 result held a body, which http forbids; dropped") == 1
    assert "traceback" not in log and "bad_result" not in log
