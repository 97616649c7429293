"""The console in the image: samples staged into their own late layer, and the smoke test's
checks of the page and the OpenAPI document, run against the real server (gunicorn)."""

from __future__ import annotations

import dataclasses

import pytest
import requests
from server.conftest import Gunicorn
from server.support import write_project
from uaipack import build, smoke
from uaipack.conf import write_conf
from uaipack.samples import find_samples

ECHO = """
class Echo:
    def __init__(self, conf):
        pass

    def execute(self, data, batch_size):
        return [item.body.decode() for item in data]
"""


def test_the_samples_are_staged_and_copied_after_the_conf_so_a_code_change_rebuilds_little(
    settings, project, no_package_resolution
):
    (project.root / "samples").mkdir()
    (project.root / "samples" / "two.json").write_text("[2]")
    context = build.stage_context(settings, project, write_conf(settings, project), network=False)
    assert (context / "samples" / "two.json").read_text() == "[2]"
    dockerfile = (context / "uaiservice.Dockerfile").read_text()
    assert dockerfile.index("COPY conf.json") < dockerfile.index("COPY samples/ /opt/uai/samples/")
    assert "ENV UAI_SAMPLES_DIR=/opt/uai/samples" in dockerfile


def test_a_project_without_samples_stages_an_empty_folder(settings, project, no_package_resolution):
    conf = write_conf(settings, project)
    context = build.stage_context(settings, project, conf, network=False)
    assert list((context / "samples").iterdir()) == []
    packed = dataclasses.replace(project, samples_dir=None)  # code packed from elsewhere, none beside it
    context = build.stage_context(settings, packed, conf, network=False)
    assert list((context / "samples").iterdir()) == []


@pytest.fixture
def echo_server(tmp_path):
    """gunicorn serving Echo with one sample; `start(**env)` returns (url, samples)."""
    conf_file = write_project(
        tmp_path, ECHO, {"http_server": {"exec": {"main_class": "Echo", "main_file": "echo"}}}
    )
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "hi.txt").write_text("hi")
    (tmp_path / "samples" / "hi.expected").write_text("hi")
    started = []

    def start(**env: str):
        server = Gunicorn(
            conf_file,
            tmp_path / "code",
            tmp_path / "gunicorn.log",
            UAI_SAMPLES_DIR=str(tmp_path / "samples"),
            **env,
        )
        started.append(server)
        server.wait_until(lambda: _ready(server.url), what="ready")
        return server.url, find_samples(tmp_path / "samples")

    yield start
    for server in started:
        server.stop()


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.slow
def test_the_smoke_test_checks_the_document_and_the_page_and_names_a_sample_left_out(echo_server, tmp_path):
    url, samples = echo_server()
    checks = smoke.console_checks(url, samples)
    assert [(check.name, check.problem) for check in checks] == [
        ("/openapi.json is OpenAPI 3.1", None),
        ("console page at /", None),
    ]
    (tmp_path / "samples" / "other.txt").write_text("x")
    (tmp_path / "samples" / "other.expected").write_text("x")
    more = find_samples(tmp_path / "samples")
    (tmp_path / "samples" / "other.txt").unlink()
    assert smoke.console_checks(url, more)[0].problem == "no example for sample(s) other"


@pytest.mark.slow
def test_with_the_console_off_the_smoke_test_expects_the_page_to_answer_404(echo_server):
    url, samples = echo_server(UAI_CONSOLE="0")
    checks = smoke.console_checks(url, samples)
    assert [(check.name, check.status, check.problem) for check in checks] == [
        ("/openapi.json is OpenAPI 3.1", "200", None),
        ("console off: / answers 404", "404", None),
    ]
