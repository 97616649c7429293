"""The console page through Django's test client: its files, their types and security headers,
the data routes behind it (model, samples, answer checks) and the `console` switch."""

import re

import pytest
from django.test import Client
from django.urls import get_resolver
from httpserver import console
from httpserver.config import server_settings

from server.console_support import Doubles, write_samples

CONSOLE_ROUTES = ["/", *(f"/console/{name}" for name in console.ASSETS), "/console/info", "/console/sample"]


@pytest.fixture
def samples(tmp_path, monkeypatch):
    monkeypatch.setenv("UAI_SAMPLES_DIR", str(write_samples(tmp_path / "samples")))
    return tmp_path / "samples"


@pytest.fixture
def client():
    return Client()


def test_the_page_is_html_under_a_strict_content_security_policy(serve, client):
    serve(Doubles())
    page = client.get("/")
    assert page.status_code == 200
    assert page["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in page["Content-Security-Policy"] and "http" not in page["Content-Security-Policy"]
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["X-Frame-Options"] == "DENY"


def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_files(serve, client):
    serve(Doubles())
    html = client.get("/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert "<style" not in html and not re.search(r"\s(style|on[a-z]+)=", html), "an inline style or handler"
    referenced = set(re.findall(r'(?:src|href)="(console/[^"]+)"', html))
    assert referenced == {f"console/{name}" for name in console.ASSETS}


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("console.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("icon.png", "image/png"),
    ],
)
def test_each_file_of_the_page_answers_with_its_type_and_the_security_headers(
    serve, client, name, content_type
):
    serve(Doubles())
    answer = client.get(f"/console/{name}")
    assert (answer.status_code, answer["Content-Type"]) == (200, content_type)
    assert answer["X-Content-Type-Options"] == "nosniff" and answer["Referrer-Policy"] == "no-referrer"
    assert "sandbox" in answer["Content-Security-Policy"]


def test_no_file_of_the_page_names_an_external_address():
    for asset in [console.PAGE, *console.ASSETS.values()]:
        assert b"http://" not in asset.body and b"https://" not in asset.body


def test_a_browser_holding_the_current_file_gets_304(serve, client):
    serve(Doubles())
    first = client.get("/console/console.js")
    again = client.get("/console/console.js", headers={"If-None-Match": first["ETag"]})
    assert (again.status_code, again.content) == (304, b"")


def test_info_names_the_model_its_framework_the_body_limit_and_every_sample(serve, client, samples):
    serve(Doubles(), max_body_bytes=1234)
    info = client.get("/console/info").json()
    assert info["model"] == {"name": "Doubles", "module": None, "framework": "self", "status": "ready"}
    assert info["max_body_bytes"] == 1234
    assert {sample["name"]: sample["expected"] for sample in info["samples"]} == {
        "hello": "exact",
        "lonely": None,
        "pixel": "exact",
        "scores": "json",
    }
    pixel = next(sample for sample in info["samples"] if sample["name"] == "pixel")
    assert pixel == {
        "name": "pixel",
        "file": "pixel.png",
        "content_type": "image/png",
        "size": 28,
        "expected": "exact",
    }


def test_a_sample_body_is_served_as_an_attachment_with_its_type(serve, client, samples):
    serve(Doubles())
    body = client.get("/console/sample?name=pixel")
    assert (body.status_code, body["Content-Type"]) == (200, "image/png")
    assert body.content == (samples / "pixel.png").read_bytes()
    assert body["Content-Disposition"] == 'attachment; filename="pixel.png"'


def test_an_answer_is_checked_against_the_sample_by_the_smoke_tests_rules(serve, client, samples):
    serve(Doubles())

    def check(name, answer):
        return client.post(
            f"/console/check?name={name}", data=answer, content_type="application/octet-stream"
        )

    assert check("scores", b'{"best": 0.50001}').json() == {
        "sample": "scores",
        "match": True,
        "problem": None,
    }
    assert check("hello", b"5").json()["match"] is True
    assert check("hello", b"6").json() == {
        "sample": "hello",
        "match": False,
        "problem": "expected '5', got '6'",
    }
    assert (
        check("lonely", b"x").json()["problem"].startswith("no expected answer: add samples/lonely.expected")
    )


def test_an_unknown_or_unnamed_sample_is_a_json_error(serve, client, samples):
    serve(Doubles())
    unknown = client.get("/console/sample?name=nope")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    assert "no sample named 'nope'" in unknown.json()["message"]
    assert client.get("/console/sample").status_code == 400


def test_the_switch_turns_every_console_route_into_the_usual_json_404(serve, client, samples):
    serve(Doubles(), console=False)
    usual = client.get("/no-such-path")
    for path in [*CONSOLE_ROUTES, "/console/check?name=hello"]:
        for method in (client.get, client.post):
            answer = method(path)
            assert (answer.status_code, answer.json()) == (404, usual.json()), path
    assert client.post("/service", data=b"abc", content_type="text/plain").content == b"3"


def test_uai_console_0_in_the_environment_turns_the_console_off():
    assert server_settings(None, {}).console is True
    assert server_settings(None, {"UAI_CONSOLE": "0"}).console is False
    assert server_settings({"http_server": {}, "server": {"console": False}}, {}).console is False


def test_post_service_resolves_at_the_first_route_so_the_console_costs_it_nothing():
    first = get_resolver().url_patterns[0]
    assert (str(first.pattern), first.callback.__name__) == ("service", "service")


def test_a_console_route_refuses_another_method_with_405_and_allow(serve, client):
    serve(Doubles())
    refused = client.post("/console/info")
    assert (refused.status_code, refused["Allow"], refused.json()["error"]) == (
        405,
        "GET, HEAD",
        "method_not_allowed",
    )
