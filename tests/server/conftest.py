"""Fixtures for the inference server's tests, imported straight from the template folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVER_ROOT = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "server"
sys.path.insert(0, str(SERVER_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "httpserver.settings")

import django  # noqa: E402

django.setup()

from httpserver import runtime as runtime_module  # noqa: E402
from httpserver.config import ServerSettings  # noqa: E402
from httpserver.loading import ModelHost  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts real gunicorn processes (a few seconds each)")


@pytest.fixture
def serve():
    """Install a runtime around `model` (any object with execute) for the Django test client."""
    started = []

    def install(model: object, **knobs) -> runtime_module.Runtime:
        settings = ServerSettings(**knobs)
        runtime = runtime_module.Runtime(settings, ModelHost(instance=model)).start()
        runtime_module.install(runtime)
        started.append(runtime)
        return runtime

    previous = runtime_module.installed()
    yield install
    for runtime in started:
        runtime.stop(timeout=5)
    runtime_module.install(previous)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """The UAI start command, run for real on 127.0.0.1, with its log captured to a file."""

    def __init__(self, conf_file: Path, code_dir: Path, log_file: Path, **env: str):
        self.port = free_port()
        self.log_file = log_file
        environment = {
            **os.environ,
            "UAI_SERVICE_CONFIG": str(conf_file),
            "UAI_CODE_DIR": str(code_dir),
            "PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._log = log_file.open("wb")
        self.process = subprocess.Popen(
            f"cd '{SERVER_ROOT}' && exec '{gunicorn}' -c gunicorn.conf.py httpserver.wsgi",
            shell=True,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The master's children: its workers, now."""
        pid = self.process.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def wait_until(self, predicate, timeout: float = 15.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(
                    f"gunicorn exited ({self.process.returncode}) waiting for {what}:\n{self.log()}"
                )
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
        return self.process.returncode


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn for a conf; every process started is stopped at teardown."""
    running: list[Gunicorn] = []

    def start(conf_file: Path, **env: str) -> Gunicorn:
        server = Gunicorn(
            conf_file, conf_file.parent / "code", tmp_path / f"gunicorn-{len(running)}.log", **env
        )
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()
