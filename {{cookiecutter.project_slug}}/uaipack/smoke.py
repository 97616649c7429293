"""`invoke smoke-test`: run the image on 127.0.0.1, wait until ready, send the samples, check.

The container is always removed: on success, on failure, on timeout, on Ctrl-C and on
SIGTERM. Any failure shows the container's log, since that is where the reason is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import socket
import time
import uuid
from collections.abc import Iterator

import docker
import requests

from uaipack import UserError, engine
from uaipack.build import BODY_LIMIT_LABEL
from uaipack.progress import console, say, show_table
from uaipack.samples import Sample
from uaipack.settings import SERVER_DEFAULTS

SMOKE_LABEL = "ai.uaipack.smoke"
CONTAINER_PORT = "8080/tcp"


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    status: str
    milliseconds: float
    problem: str | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None


@dataclasses.dataclass(frozen=True)
class SmokeReport:
    checks: list[Check]
    seconds_to_ready: float


def smoke_test(reference: str, samples: list[Sample], timeout_s: float) -> SmokeReport:
    """Run `reference`, check it, print the table; raise UserError (after the log) on any failure."""
    client = engine.client()
    image = engine.find_image(reference)
    if image is None:
        raise UserError(f"there is no image {reference}; run `invoke build` first.")
    max_body_bytes = body_limit(image)
    name = f"uaipack-smoke-{uuid.uuid4().hex[:12]}"
    with terminate_as_interrupt(), running_container(client, reference, name) as (container, base_url):
        say(f"smoke-testing {reference} in container {name} at {base_url}")
        seconds_to_ready = wait_ready(container, base_url, timeout_s)
        checks = [check_sample(base_url, sample) for sample in samples]
        checks += [
            check_initialized(base_url),
            check_malformed(base_url),
            check_oversized(base_url, max_body_bytes),
            *console_checks(base_url, samples),
            check_still_ready(base_url),
        ]
        show_table(
            f"smoke test of {reference}",
            ["check", "status", "ms", "result"],
            [
                (c.name, c.status, f"{c.milliseconds:.0f}", "pass" if c.passed else f"FAIL: {c.problem}")
                for c in checks
            ],
        )
        failed = [check for check in checks if not check.passed]
        if failed:
            show_log(container)
            raise UserError(
                f"the smoke test failed {len(failed)} of {len(checks)} checks "
                f"({', '.join(check.name for check in failed)}); see the table and the log above."
            )
        say(f"smoke test passed: {len(checks)} checks, ready in {seconds_to_ready:.1f} s", style="green")
        return SmokeReport(checks, seconds_to_ready)


@contextlib.contextmanager
def running_container(client: docker.DockerClient, reference: str, name: str) -> Iterator[tuple]:
    """The image running with 8080 published on a free 127.0.0.1 port; removed by name afterwards."""
    try:
        container = client.containers.run(
            reference,
            name=name,
            detach=True,
            labels={SMOKE_LABEL: "1"},
            ports={CONTAINER_PORT: ("127.0.0.1", None)},
        )
        container.reload()
        port = container.ports[CONTAINER_PORT][0]["HostPort"]
        yield container, f"http://127.0.0.1:{port}"
    finally:
        # By name: a Ctrl-C between create and return leaves no handle, but the name is known.
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C inside the block (a container or registry runs): cleanup runs for both."""
    try:
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_ready(container, base_url: str, timeout_s: float) -> float:
    """Poll /readyz until 200; fail early if the container exits, or at the deadline."""
    started = time.monotonic()
    deadline = started + timeout_s
    with console.status("waiting for /readyz"):
        while time.monotonic() < deadline:
            container.reload()
            if container.status in {"exited", "dead"}:
                show_log(container)
                code = container.attrs["State"].get("ExitCode")
                raise UserError(
                    f"the server exited (code {code}) before it was ready; "
                    "the container's log above says why."
                )
            try:
                if requests.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.2)
    show_log(container)
    raise UserError(
        f"the server was not ready within {timeout_s:.0f} s; see its log above, "
        "or allow more time with --timeout (uai.startup_timeout_s)."
    )


def body_limit(image) -> int:
    """The largest body the image accepts, as its build recorded it from its conf (the server's
    default for an image built before uaipack recorded it)."""
    recorded = (image.labels or {}).get(BODY_LIMIT_LABEL)
    if recorded is None:
        say(f"the image has no {BODY_LIMIT_LABEL} label: assuming the server's default body limit")
        return int(SERVER_DEFAULTS["max_body_bytes"])
    return int(recorded)


def check_sample(base_url: str, sample: Sample) -> Check:
    started = time.monotonic()
    try:
        response = requests.post(
            f"{base_url}/service", data=sample.body, headers={"Content-Type": sample.content_type}, timeout=60
        )
    except requests.RequestException as exc:
        return Check(sample.name, "-", _ms(started), f"no answer ({exc.__class__.__name__})")
    problem = None if response.status_code == 200 else f"HTTP {response.status_code}"
    problem = problem or sample.mismatch(response.content)
    return Check(sample.name, str(response.status_code), _ms(started), problem)


def check_initialized(base_url: str) -> Check:
    started = time.monotonic()
    try:
        response = requests.get(f"{base_url}/initialized", timeout=10)
    except requests.RequestException as exc:
        return Check("/initialized says YES", "-", _ms(started), f"no answer ({exc.__class__.__name__})")
    answer = response.text.strip()
    problem = None if response.status_code == 200 and answer == "YES" else f"answered {answer[:40]!r}"
    return Check("/initialized says YES", str(response.status_code), _ms(started), problem)


def check_malformed(base_url: str) -> Check:
    """A request that is not valid HTTP must get a 4xx, not a crash or a hang."""
    started = time.monotonic()
    host, port = base_url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(
                b"POST /service HTTP/1.1\r\nHost: smoke\r\nContent-Length: not-a-number\r\n\r\n"
            )
            status_line = connection.recv(200).split(b"\r\n", 1)[0].decode("latin-1")
    except OSError as exc:
        return Check(
            "malformed request refused", "-", _ms(started), f"connection failed ({exc.__class__.__name__})"
        )
    status = status_line.split(" ")[1] if status_line.count(" ") >= 1 else "-"
    problem = None if status.startswith("4") else f"expected a 4xx, got {status_line[:40]!r}"
    return Check("malformed request refused", status, _ms(started), problem)


def check_oversized(base_url: str, max_body_bytes: int) -> Check:
    started = time.monotonic()
    try:
        response = requests.post(f"{base_url}/service", data=b"0" * (max_body_bytes + 1), timeout=60)
    except requests.RequestException as exc:
        return Check(
            "oversized request refused", "-", _ms(started), f"no clean answer ({exc.__class__.__name__})"
        )
    problem = None if response.status_code == 413 else f"expected 413, got {response.status_code}"
    return Check("oversized request refused", str(response.status_code), _ms(started), problem)


def check_still_ready(base_url: str) -> Check:
    started = time.monotonic()
    try:
        status = requests.get(f"{base_url}/readyz", timeout=10).status_code
    except requests.RequestException as exc:
        return Check("still ready afterwards", "-", _ms(started), exc.__class__.__name__)
    return Check(
        "still ready afterwards", str(status), _ms(started), None if status == 200 else f"HTTP {status}"
    )


def console_checks(base_url: str, samples: list[Sample]) -> list[Check]:
    """The OpenAPI document, then the console page as the document says it is (on or off)."""
    started = time.monotonic()
    try:
        response = requests.get(f"{base_url}/openapi.json", timeout=10)
        document = response.json() if response.status_code == 200 else {}
    except (requests.RequestException, ValueError) as exc:
        return [
            Check(
                "/openapi.json is OpenAPI 3.1", "-", _ms(started), f"no document ({exc.__class__.__name__})"
            )
        ]
    paths = document.get("paths", {})
    bodies = paths.get("/service", {}).get("post", {}).get("requestBody", {}).get("content", {})
    named = {name for media in bodies.values() for name in media.get("examples", {})}
    missing = [sample.name for sample in samples if sample.name not in named]
    problem = (
        f"answered {response.status_code} with openapi {document.get('openapi')!r}"
        if not str(document.get("openapi", "")).startswith("3.1") or "/service" not in paths
        else (f"no example for sample(s) {', '.join(missing)}" if missing else None)
    )
    openapi = Check("/openapi.json is OpenAPI 3.1", str(response.status_code), _ms(started), problem)
    return [openapi, check_console_page(base_url, enabled="/" in paths)]


def check_console_page(base_url: str, enabled: bool) -> Check:
    """The page under its strict CSP with its script when the console is on, a JSON 404 when off."""
    started = time.monotonic()
    name = "console page at /" if enabled else "console off: / answers 404"
    try:
        page = requests.get(f"{base_url}/", timeout=10)
        script = requests.get(f"{base_url}/console/console.js", timeout=10) if enabled else None
    except requests.RequestException as exc:
        return Check(name, "-", _ms(started), f"no answer ({exc.__class__.__name__})")
    if not enabled:
        problem = None if page.status_code == 404 else f"expected 404, got {page.status_code}"
        return Check(name, str(page.status_code), _ms(started), problem)
    policy = page.headers.get("Content-Security-Policy", "")
    problem = None
    if page.status_code != 200 or not page.headers.get("Content-Type", "").startswith("text/html"):
        problem = f"expected an HTML page, got {page.status_code} {page.headers.get('Content-Type')}"
    elif "script-src 'self'" not in policy or page.headers.get("X-Content-Type-Options") != "nosniff":
        problem = f"no strict Content-Security-Policy and nosniff (got {policy!r:.60})"
    elif script.status_code != 200:
        problem = f"console/console.js answered {script.status_code}"
    return Check(name, str(page.status_code), _ms(started), problem)


def show_log(container, lines: int = 40) -> None:
    with contextlib.suppress(docker.errors.APIError):
        log = container.logs(tail=lines).decode("utf-8", "replace").rstrip()
        say(f"--- last {lines} lines of the container's log ---", style="yellow")
        say(log or "(empty)")
        say("--- end of log ---", style="yellow")


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
