"""`invoke serve`: the image's server on the host, answering, and reloading when code/ changes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from bakery import bake
from uaipack.registry import free_port

pytestmark = pytest.mark.slow
BODY = "[0.0, 0.1, 0.9]"


def answer_when(url: str, wanted: str, process: subprocess.Popen, timeout: float = 30.0) -> str:
    """POST until the answer is `wanted` or the deadline passes; return the last answer."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        assert process.poll() is None, "invoke serve exited"
        try:
            last = requests.post(f"{url}/service", data=BODY, timeout=2).text
        except requests.ConnectionError:
            last = "(no answer)"
        if last == wanted:
            return last
        time.sleep(0.2)
    return last


def test_serve_answers_on_loopback_and_reloads_an_edited_inference_class(tmp_path):
    project = bake(tmp_path)
    port = free_port()
    invoke = Path(sys.executable).with_name("invoke")
    process = subprocess.Popen(
        [str(invoke), "serve", "--port", str(port)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={key: value for key, value in os.environ.items() if not key.startswith("INVOKE_")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        first = answer_when(url, "2", process)
        samples = [
            sample["name"] for sample in requests.get(f"{url}/console/info", timeout=5).json()["samples"]
        ]
        stub = project / "code" / "mnist_inference.py"
        source = stub.read_text()
        assert "return str(max(" in source
        stub.write_text(source.replace("return str(max(", 'return "edited" or str(max('))
        edited = answer_when(url, "edited", process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert (first, edited) == ("2", "edited"), output
    assert f"serving {project / 'code'} on http://127.0.0.1:{port}/service" in output
    assert f"console: http://127.0.0.1:{port}/ " in output
    assert samples == ["two", "zero"]  # the console reads the project's samples/
