"""A real browser against a real server: Debian's chromium driven by Playwright, and the UAI
start command (gunicorn) on 127.0.0.1 serving a model that answers every kind of body.

Playwright talks to the system chromium over its DevTools protocol: no browser download,
no chromedriver. Outside CI a missing chromium (or Playwright) skips these tests with the
reason; in CI (CI=true) it fails them (`scripts/bootstrap.sh` installs chromium).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import requests

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the `browser` fixture says so: skipped outside CI, failed in CI
    expect = sync_playwright = None
from server.conftest import Gunicorn
from server.support import write_project

#: As root on a closed machine: no sandbox, no GPU, and none of chromium's own traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
#: Routes whose HTTP error answers the page reads and shows on purpose.
ANSWERED_ROUTES = ("/readyz", "/service")
SCREENSHOT_DIR_ENV = "UAIPACK_SCREENSHOT_DIR"
LIMIT = 65536

SHOWCASE = Path(__file__).with_name("showcase.py").read_text()


def write_samples(folder: Path) -> None:
    """One sample that matches its expected answer, one that does not, one binary."""
    folder.mkdir()
    (folder / "echo.json").write_text('{"hello": "world"}')
    (folder / "echo.expected.json").write_text('{"echo": {"hello": "world"}}')
    (folder / "wrong.json").write_text("[1, 2]")
    (folder / "wrong.expected.json").write_text('{"echo": [2, 1]}')
    (folder / "blob.bin").write_bytes(bytes(300))
    (folder / "blob.expected.json").write_text('{"bytes": 300, "content_type": "application/octet-stream"}')


def fail_or_skip(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} — CI must run the browser tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, in a fresh profile (Playwright makes a new user-data-dir).

    Per module, not per session: Playwright's sync API runs an event loop in this thread while
    it lives, and Django's test client (other modules) cannot call async views beside one."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        fail_or_skip("chromium is not installed (Debian: apt-get install chromium; `make engine` does that)")
    if sync_playwright is None:
        fail_or_skip("playwright is not installed (pip install -r requirements/dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The UAI start command serving Showcase, with samples; stopped after the module."""
    root = tmp_path_factory.mktemp("console")
    conf = {
        "http_server": {"exec": {"main_class": "Showcase", "main_file": "showcase"}},
        "server": {"max_body_bytes": LIMIT},
    }
    conf_file = write_project(root, SHOWCASE, conf)
    write_samples(root / "samples")
    running = Gunicorn(
        conf_file,
        root / "code",
        root / "gunicorn.log",
        UAI_SAMPLES_DIR=str(root / "samples"),
        SHOWCASE_LOAD_SECONDS="1",
    )
    running.wait_until(lambda: _answers(running.url + "/healthz"), what="the server to listen")
    yield running
    running.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


class Visit:
    """One page of the console, with everything it requested and every error it logged."""

    def __init__(self, page, origin: str):
        self.page = page
        self.origin = origin
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def _on_console(self, message) -> None:
        """Every error counts, except chromium's note on an HTTP error status of /readyz (503 while
        the model loads) or /service (an answer the page shows): those are answers, not faults."""
        answered = message.text.startswith("Failed to load resource: the server responded with a status")
        if message.type == "error" and not (answered and message.location["url"].endswith(ANSWERED_ROUTES)):
            self.errors.append(f"{message.text} ({message.location['url']})")

    def open(self):
        self.page.goto(self.origin + "/")
        expect(self.page.locator("#state")).to_have_text("ready", timeout=15000)
        expect(self.page.locator("#model-name")).not_to_have_text("model")
        return self

    def send_json(self, body) -> None:
        self.page.fill("#body", json.dumps(body))
        self.send()

    def send(self) -> None:
        """Click Send and wait until the page shows the answer."""
        with self.page.expect_response(lambda response: response.url.endswith("/service")):
            self.page.click("#send")
        expect(self.page.locator("#summary")).not_to_have_text(re.compile("^Waiting"))

    def shown_size(self) -> int:
        """The answer's size in bytes, as the summary gives it."""
        return int(re.search(r"\((\d+) bytes\)", self.text("#summary")).group(1))

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def screenshot(self, name: str, tmp_path: Path) -> Path:
        folder = Path(os.environ.get(SCREENSHOT_DIR_ENV) or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / name), full_page=True)
        return folder / name


@pytest.fixture
def visit(browser, server):
    """A fresh browser context on the console; afterwards it must have asked nothing of any other
    origin, logged no error and opened no dialog."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 860})
    visit = Visit(context.new_page(), server.url)
    yield visit
    context.close()
    outside = [url for url in visit.requests if not url.startswith((server.url + "/", f"blob:{server.url}/"))]
    assert outside == [], f"requests left the page's origin: {outside}"
    assert visit.errors == [], f"console errors: {visit.errors}"
    assert visit.dialogs == [], f"dialogs opened: {visit.dialogs}"
