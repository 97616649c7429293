"""A real, authenticated Docker registry on 127.0.0.1, for demos and tests.

Runs Debian's `docker-registry` (distribution v2) as a child process on a free loopback
port, with htpasswd (bcrypt) authentication and its storage in a temporary folder. It is
stopped by its own process id, never by name, so a registry someone else runs is safe.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from uaipack import UserError

CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: {secret}
auth:
  htpasswd:
    realm: uaipack-local
    path: {htpasswd}
"""


class LocalRegistry:
    """`with LocalRegistry("user", "secret") as registry:` pushes go to `registry.address`."""

    def __init__(self, username: str, password: str, *, workdir: Path | None = None):
        self.username = username
        self._password = password
        self._workdir = workdir
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def address(self) -> str:
        """host:port to use in image references (loopback, so Docker allows plain HTTP)."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    def start(self, timeout: float = 30.0) -> LocalRegistry:
        """Start the registry and wait until it answers (401 without credentials)."""
        binary = shutil.which("docker-registry")
        if binary is None:
            raise UserError(
                "docker-registry is not installed: `apt-get install docker-registry apache2-utils` (as root)"
            )
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="uai-registry-")
            self.root = Path(self._tmp.name)
        else:
            self.root = Path(self._workdir)
            self.root.mkdir(parents=True, exist_ok=True)
        htpasswd = self.root / "htpasswd"
        htpasswd.write_text(bcrypt_line(self.username, self._password))
        htpasswd.chmod(0o600)
        self.port = free_port()
        config = self.root / "config.yml"
        config.write_text(
            CONFIG.format(
                storage=self.root / "storage",
                port=self.port,
                htpasswd=htpasswd,
                secret=socket.gethostname() + str(time.time_ns()),
            )
        )
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UserError(f"docker-registry exited ({self.process.returncode}); see {self.log_path}")
            try:
                if requests.get(f"http://{self.address}/v2/", timeout=1).status_code == 401:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise UserError(f"docker-registry did not answer within {timeout:.0f} s; see {self.log_path}")

    def has_manifest(self, repository: str, reference: str) -> bool:
        """True when the registry holds `repository` at a tag or digest (asked with credentials)."""
        response = requests.head(
            f"http://{self.address}/v2/{repository}/manifests/{reference}",
            auth=(self.username, self._password),
            timeout=10,
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        return response.status_code == 200

    def stop(self) -> None:
        """Stop our own registry process (by pid) and remove its temporary data."""
        if self.process is not None:
            stop_process(self.process, grace_s=10)
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def bcrypt_line(username: str, password: str) -> str:
    """An htpasswd line with a bcrypt hash; the password goes through stdin, never argv."""
    if shutil.which("htpasswd") is None:
        raise UserError("htpasswd is not installed: `apt-get install apache2-utils` (as root)")
    result = subprocess.run(
        ["htpasswd", "-niB", username], input=password, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise UserError(f"htpasswd refused the user name {username!r}: {result.stderr.strip()}")
    return result.stdout.strip() + "\n"


def stop_process(process: subprocess.Popen, grace_s: float) -> int:
    """Stop a child we started: SIGTERM, then SIGKILL after `grace_s`; its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
