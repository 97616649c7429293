"""Tasks for working on the template itself: bake, base-image, registry, bench, demo, link.

The logic lives in the generated project's `uaipack` package (imported from the template
folder), so the template and every baked project share one implementation.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

from invoke import task

ROOT = Path(__file__).resolve().parent
TEMPLATE = ROOT / "{{cookiecutter.project_slug}}"
sys.path.insert(0, str(TEMPLATE))

from uaipack import baseimage as base_images  # noqa: E402
from uaipack import exit_on_user_error  # noqa: E402
from uaipack.registry import LocalRegistry  # noqa: E402
from uaipack.smoke import terminate_as_interrupt  # noqa: E402

REGISTRY_STATE = ROOT / ".registry"


user_errors = exit_on_user_error  # a UserError becomes one line, no traceback


@task(
    help={
        "output_dir": "where to write the project (default: out/)",
        "answer": "an answer as key=value, e.g. --answer framework=sklearn (repeatable)",
    }
)
@user_errors
def bake(c, output_dir="out", answer=None):
    """Bake a project from this template with default answers (plus any --answer)."""
    answers = dict(item.split("=", 1) for item in answer or [])
    c.run(
        f"{sys.executable} -m cookiecutter {ROOT} --no-input -f -o {output_dir} "
        + " ".join(f"'{key}={value}'" for key, value in answers.items()),
        pty=False,
    )


@task(
    help={
        "tag": f"image tag (default {base_images.DEFAULT_TAG})",
        "rebuild": "build again even when the image exists",
    }
)
@user_errors
def base_image(c, tag=base_images.DEFAULT_TAG, rebuild=False):
    """Build the local Debian bookworm Python base image (debootstrap + docker import)."""
    base_images.ensure_base_image(tag, rebuild=rebuild)


@task(help={"username": "registry user (default uaipack)"})
@user_errors
def registry(c, username="uaipack"):
    """Run an authenticated local registry on 127.0.0.1 until Ctrl-C (password in .registry/)."""
    REGISTRY_STATE.mkdir(mode=0o700, exist_ok=True)
    password_file = REGISTRY_STATE / "password"
    password = os.environ.get("UAIPACK_REGISTRY_PASSWORD") or secrets.token_urlsafe(18)
    password_file.write_text(password)
    password_file.chmod(0o600)
    with terminate_as_interrupt(), LocalRegistry(username, password) as running:  # SIGTERM too
        print(f"registry {running.address} (user {username}, password in {password_file}); Ctrl-C stops it")
        try:
            while running.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping the registry")


@task(
    help={
        "project": "the folder of a project baked before bakes recorded their template commit",
        "upgrade": "then upgrade it to this checkout's newest commit (as `invoke upgrade` does)",
    }
)
@user_errors
def link(c, project, upgrade=False):
    """Record which commit of this template an older project was baked from, so it can upgrade."""
    from uaipack import upgrade as upgrades

    folder = Path(project).expanduser().resolve()
    origin, matches = upgrades.link(folder, ROOT)
    print(
        f"linked {folder} to {origin.location} at {origin.commit[:12]} "
        f"({len(matches)} commit(s) hold its runtime; oldest taken) in {upgrades.STATE_FILE}: commit it"
    )
    if upgrade:
        upgrades.report(upgrades.upgrade(folder))


@task(help={"output_dir": "where the demo project is baked (replaced each run)"})
@user_errors
def demo(c, output_dir="demo-out"):
    """The main job end to end: bake, base image, conf, build, smoke-test, push, pull, answer."""
    from devtools.demo import run_demo

    run_demo(ROOT, ROOT / output_dir)


@task(help={"write": "write the figures into BENCHMARKS.md and DEPLOY.md (default: only print them)"})
@user_errors
def bench(c, write=False):
    """Benchmarks that print figures: the server (req/s, p50, p99), build/push, Swarm scenarios."""
    flag = " --write" if write else ""
    c.run(f"{sys.executable} -m bench.server --variants{flag}", pty=False)
    c.run(f"{sys.executable} -m bench.build{flag}", pty=False)
    c.run(f"{sys.executable} -m bench.swarm{flag}", pty=False)  # figures into DEPLOY.md
