"""`make demo`: the main job end to end, as a user runs it, against real parts.

Bake with default answers, make the local base image, then in the baked project run
`invoke conf`, `build`, `smoke-test` and `push` to an authenticated local registry; remove
the local image, pull it back by digest, run it, ask it, write the deployment manifests
(`invoke manifests`, by that digest), and print a summary.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests
from rich.console import Console
from rich.table import Table
from uaipack import UserError, engine
from uaipack.baseimage import ensure_base_image
from uaipack.registry import LocalRegistry
from uaipack.settings import split_reference
from uaipack.smoke import running_container, wait_ready

console = Console()
SAMPLE_BODY = b"[0.0, 0.1, 0.9, 0.05]"
EXPECTED_ANSWER = "2"


@dataclass
class Steps:
    """Seconds per step, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, action):
        console.rule(f"[bold]{name}")
        started = time.monotonic()
        result = action()
        self.seconds[name] = time.monotonic() - started
        return result


def run_demo(template: Path, output_dir: Path) -> None:
    """Run every step; raise UserError naming the step that failed."""
    steps = Steps()
    if output_dir.exists():
        shutil.rmtree(output_dir)
    project = steps.run("bake", lambda: bake_defaults(template, output_dir))
    base = steps.run("base image", ensure_base_image)
    password = secrets.token_urlsafe(24)
    with LocalRegistry("demo", password) as registry:
        env = {
            **os.environ,
            "INVOKE_UAI_BASE_IMAGE": base,
            "INVOKE_UAI_REGISTRY": registry.address,
            "UHUB_USERNAME": "demo",
            "UHUB_PASSWORD": password,
        }
        steps.run("conf", lambda: invoke(project, env, "conf"))
        steps.run("build", lambda: invoke(project, env, "build"))
        steps.run("smoke-test", lambda: invoke(project, env, "smoke-test"))
        pushed = steps.run("push", lambda: invoke(project, env, "push", "--skip-checks"))
        reference, digest = pushed_image(pushed)
        client = engine.client()
        image = client.images.get(reference)
        steps.run("remove local image", lambda: remove_image(client, image.id))
        size = image.attrs["Size"]
        repository = split_reference(reference)[0]
        auth = {"username": "demo", "password": password}
        steps.run("pull by digest", lambda: client.images.pull(f"{repository}@{digest}", auth_config=auth))
        answer = steps.run("run and ask", lambda: ask_container(client, f"{repository}@{digest}"))
        steps.run("manifests", lambda: invoke(project, env, "manifests"))  # deploy/, by the pushed digest
    if answer != EXPECTED_ANSWER:
        raise UserError(f"the pulled image answered {answer!r}, expected {EXPECTED_ANSWER!r}")
    print_summary(reference, digest, size, answer, steps)
    serve = f"cd {project} && {Path(sys.executable).with_name('invoke')} serve"
    console.print(f"try it in a browser: `{serve}`, then open http://127.0.0.1:8080/ (the console page)")


def bake_defaults(template: Path, output_dir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(template), "--no-input", "-o", str(output_dir)],
        check=True,
    )
    (project,) = [path for path in output_dir.iterdir() if path.is_dir()]
    return project


def invoke(project: Path, env: dict, *args: str) -> str:
    """Run a project task as a user would, echoing its output; return that output."""
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    if process.wait() != 0:
        command = " ".join(args)
        raise UserError(f"`invoke {command}` failed in {project} (exit {process.returncode}); see above")
    return "".join(lines)


def pushed_image(output: str) -> tuple[str, str]:
    """The reference from UAI's success line and the digest the push printed."""
    reference = re.search(r"upload docker images successful\. images:(\S+)", output)
    digest = re.search(r"digest (sha256:[0-9a-f]{64})", output)
    if not reference or not digest:
        raise UserError("`invoke push` did not print the success line and a digest")
    return reference.group(1), digest.group(1)


def remove_image(client: docker.DockerClient, image_id: str) -> None:
    """Remove the image under every tag, and prove it is gone, so the pull really pulls."""
    client.images.remove(image_id, force=True)
    try:
        client.images.get(image_id)
    except docker.errors.ImageNotFound:
        return
    raise UserError(f"image {image_id} is still there after removing it")


def ask_container(client: docker.DockerClient, image: str, timeout: float = 120) -> str:
    """Run `image` on a loopback port, wait for /readyz, POST the sample, return the answer."""
    with running_container(client, image, f"uaipack-demo-{secrets.token_hex(4)}") as (container, url):
        wait_ready(container, url, timeout)
        response = requests.post(f"{url}/service", data=SAMPLE_BODY, timeout=10)
        console.print(f"POST /service {SAMPLE_BODY.decode()} -> {response.status_code} {response.text!r}")
        page = requests.get(f"{url}/", timeout=10)
        console.print(f"console page: {url}/ -> {page.status_code} {page.headers.get('Content-Type')}")
        return response.text.strip()


def print_summary(reference: str, digest: str, size: int, answer: str, steps: Steps) -> None:
    table = Table(title="make demo: done", show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("image", reference)
    table.add_row("digest", digest)
    table.add_row("size", f"{size / 1e6:.1f} MB")
    table.add_row("answer", f"{SAMPLE_BODY.decode()} -> {answer}")
    for name, seconds in steps.seconds.items():
        table.add_row(f"{name} (s)", f"{seconds:.1f}")
    table.add_row("total (s)", f"{sum(steps.seconds.values()):.1f}")
    console.print(table)
