"""Projects baked at e831428 (the last release) keep their `code/` through `invoke upgrade` while
the server is new: every name their stubs import from the server must still be there and behave."""

import http.client
import json
import re
import shutil
import subprocess
import time

import numpy as np
import pytest
from uai import examples

from server.conftest import SERVER_ROOT
from server.support import write_project
from server.test_gunicorn import get

RELEASE = "e831428"
REPO = SERVER_ROOT.parents[1]
STUBS = "{{cookiecutter.project_slug}}/code/_stubs"
IMPORTS = (SERVER_ROOT.parents[1] / "tests" / "server" / "data" / f"{RELEASE}-stub-imports.txt").read_text()
DEEP = b"[" * 100_000 + b"]" * 100_000


def release_file(path: str) -> str | None:
    """A file as the release had it, None when this checkout lacks the commit (a shallow clone)."""
    if shutil.which("git") is None:
        return None
    shown = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{RELEASE}:{path}"], capture_output=True, text=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else None


def import_lines() -> list[tuple[str, str]]:
    return [tuple(line.split(": ", 1)) for line in IMPORTS.splitlines() if line.strip()]


def test_the_recorded_import_lines_are_those_of_the_released_stubs():
    stubs = {stub for stub, _ in import_lines()}
    assert stubs == {
        f"{name}.py"
        for name in ("caffe", "keras", "onnx", "pytorch", "self", "sklearn", "tensorflow", "xgboost")
    }
    for stub in sorted(stubs):
        source = release_file(f"{STUBS}/{stub}")
        if source is None:
            pytest.skip(f"this checkout has no commit {RELEASE}")
        released = [
            line.strip().split("  #")[0]
            for line in source.splitlines()
            if line.strip().startswith(("from uai", "import uai", "from httpserver", "import httpserver"))
        ]
        assert released == [line for name, line in import_lines() if name == stub], stub


@pytest.mark.parametrize(("stub", "line"), import_lines())
def test_every_server_name_a_released_stub_imports_still_imports(stub, line):
    exec(compile(line, stub, "exec"), {})  # noqa: S102 - the release's own import lines


class Body:
    """A request as the server hands it over."""

    def __init__(self, body: bytes):
        self.body, self._body = body, body

    def read(self) -> bytes:
        return self._body


def test_answer_valid_answers_the_valid_examples_and_refuses_any_unreadable_body_alone():
    refused = examples.shape_refusal([2])
    bodies = [b"[1, 2]", DEEP, b"\xff\xfe", b"[1, 2, 3]", b"[3, 4]"]
    answers = examples.answer_valid(
        [Body(body) for body in bodies],
        len(bodies),
        parse=lambda request: examples.json_array(request, "float32", (2,)),
        predict=lambda rows: np.stack(rows).sum(axis=1).tolist(),
        refused=refused,
    )
    assert answers == [3.0, refused, refused, refused, 7.0]
    assert json.loads(refused[0]) == {"error": "the body must be one example as a JSON array of shape [2]"}


def test_answer_by_shape_groups_by_shape_and_a_parse_that_raises_fails_only_its_request():
    def parse(request):
        if request.body == b"boom":
            raise RecursionError("a parser of the project's own")
        return examples.json_array(request, "float32")

    def predict(rows):
        if np.stack(rows).shape[1:] == (3,):
            raise RuntimeError("size mismatch\nexpected 2 features")
        return np.stack(rows).sum(axis=1).tolist()

    refused = examples.refusal("the body must be one example as a JSON array of numbers")
    bodies = [b"[1, 2]", b"boom", b"[1, 2, 3]", DEEP, b"[5, 5]"]
    answers = examples.answer_by_shape(
        [Body(body) for body in bodies], len(bodies), parse, predict, refused, (RuntimeError,)
    )
    assert answers[0] == 3.0 and answers[4] == 10.0 and answers[1] == answers[3] == refused
    body, status, _ = answers[2]
    assert status == 400 and json.loads(body)["error"].endswith("[3]: expected 2 features")


OLD_STUB_CONF = {
    "http_server": {
        "exec": {"main_class": "MnistModel", "main_file": "mnist_inference"},
        "sklearn": {"model_dir": "checkpoint_dir", "model_name": "mnist_model"},
    },
    "server": {"max_batch_size": 8, "max_latency_ms": 300},
}


def sklearn_stub(which: str) -> str | None:
    """The sklearn stub of the release (rendered as cookiecutter would) or of this template."""
    if which == "current":
        return (REPO / STUBS / "sklearn.py").read_text()
    source = release_file(f"{STUBS}/sklearn.py")
    return source and source.replace("{{ cookiecutter.main_class }}", "MnistModel")


def post_at_once(url: str, bodies: list[bytes]) -> list[tuple[int, object]]:
    """POST every body on its own connection so that they meet in one batch: every head first
    (each request is then announced to the batcher, which waits up to `max_latency_ms` for
    announced bodies), then the bodies back to back. (status, JSON answer) of each."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    connections = [http.client.HTTPConnection(host, int(port), timeout=20) for _ in bodies]
    for connection, body in zip(connections, bodies, strict=True):
        connection.putrequest("POST", "/service")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
    time.sleep(0.1)  # every head has reached the server
    for connection, body in zip(connections, bodies, strict=True):
        connection.send(body)
    answers = []
    for connection in connections:
        response = connection.getresponse()
        answers.append((response.status, json.loads(response.read())))
        connection.close()
    return answers


@pytest.mark.slow
@pytest.mark.parametrize("which", ["released", "current"])
def test_a_hostile_body_in_a_real_gunicorn_batch_gets_its_own_400_and_the_rest_their_answers(
    tmp_path, gunicorn, which
):
    from frameworks.models import make_sklearn

    source = sklearn_stub(which)
    if source is None:
        pytest.skip(f"this checkout has no commit {RELEASE}")
    conf_file = write_project(tmp_path, source, OLD_STUB_CONF)
    (tmp_path / "code" / "checkpoint_dir").mkdir()
    case = make_sklearn(tmp_path / "code" / "checkpoint_dir", "mnist_model")
    server = gunicorn(conf_file)
    server.wait_until(lambda: getattr(get(server, "/readyz"), "status_code", 0) == 200, what="ready")
    bodies = [
        json.dumps(case.inputs[0]).encode(),
        DEEP,
        b"\xff\xfe[1]",
        b'{"not": "a list"}',
        json.dumps(case.inputs[1]).encode(),
    ]
    answers = post_at_once(server.url + "/service", bodies)
    assert [status for status, _ in answers] == [200, 400, 400, 400, 200]
    for index, expected in ((0, case.expected[0]), (4, case.expected[1])):
        assert answers[index][1] == pytest.approx(expected)
    for index in (1, 2, 3):
        assert "error" in answers[index][1]
    server.wait_until(lambda: server.log().count("access: POST /service") == 5, timeout=5, what="lines")
    sizes = [
        int(size) for size in re.findall(r"access: POST /service \d+ [\d.]+ms batch=(\d+)", server.log())
    ]
    assert max(sizes) >= 2, sizes  # the hostile bodies shared an execute call with good ones
    assert "execute raised" not in server.log() and "Traceback" not in server.log()
