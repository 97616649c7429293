"""The user's journey as steps shared by the tasks: conf, build, smoke-test, push.

`invoke push` and `invoke packdocker` run the same steps; each step prints its result
in one readable line, and the push ends with UAI's success line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO

from uaipack import UserError
from uaipack.build import BuiltImage, build_image
from uaipack.conf import ensure_conf
from uaipack.deployment import record_push
from uaipack.progress import human_bytes, say
from uaipack.push import REFUSED_PASSWORD_FLAG, USERNAME_ENV, Pushed, login, push_image, read_password
from uaipack.samples import find_samples
from uaipack.settings import SERVER_DEFAULTS, Project, Settings
from uaipack.smoke import SmokeReport, smoke_test

SUCCESS_LINE = "upload docker images successful. images:{reference}"


def build_step(
    settings: Settings,
    project: Project,
    reference: str,
    network: bool = False,
    write_conf: bool = True,
    no_cache: bool = False,
) -> BuiltImage:
    conf = ensure_conf(settings, project) if write_conf else None  # checked once, then built
    say(f"building {reference} from {settings.base_image}" + (" (network allowed)" if network else ""))
    built = build_image(settings, project, reference, network=network or None, no_cache=no_cache, conf=conf)
    say(
        f"built {built.reference}: image {built.image_id[7:19]}, {human_bytes(built.size)} "
        f"({human_bytes(built.size - built.base_size)} over the base), {built.cached_steps}/{built.steps} "
        f"steps cached, {built.seconds:.1f} s",
        style="green",
    )
    return built


def smoke_step(
    settings: Settings,
    reference: str,
    samples_dir: Path | None,
    timeout_s: float | None = None,
    conf_path: Path | None = None,
) -> SmokeReport:
    samples = find_samples(samples_dir) if samples_dir is not None else []
    if not samples:
        say("no samples for this code: checking readiness and refusals only")
    # The image enforces its conf's limit: a hand-written conf may set another, and one with no
    # `server` section runs on the server's own default, whatever invoke.yaml says.
    if conf_path and conf_path.is_file():
        server = json.loads(conf_path.read_text()).get("server") or {}
        max_body = int(server.get("max_body_bytes", SERVER_DEFAULTS["max_body_bytes"]))
    else:
        max_body = int(settings.server["max_body_bytes"])
    return smoke_test(reference, samples, max_body, timeout_s or settings.startup_timeout_s)


def push_step(
    settings: Settings,
    reference: str,
    registry: str,
    password_stdin: bool = False,
    stdin: IO[str] = sys.stdin,
    username: str | None = None,
    project: Project | None = None,
) -> Pushed:
    """Log in and push; with `project`, record the digest there for `invoke manifests`."""
    password = read_password(password_stdin, stdin)
    login(registry, username or settings.username or os.environ.get(USERNAME_ENV), password)
    pushed = push_image(reference, attempts=settings.push_attempts, password=password)
    say(
        f"pushed {pushed.reference}: digest {pushed.digest}, {pushed.layers_pushed} layer(s) sent "
        f"({human_bytes(pushed.bytes_pushed)}), {pushed.layers_skipped} already there, {pushed.seconds:.1f} s"
    )
    say(SUCCESS_LINE.format(reference=pushed.reference), style="bold green")
    if project is not None:
        record_push(project, pushed.reference, pushed.digest)
    return pushed


def refuse_password_flag(value: str | None) -> None:
    """A password flag is refused whatever its value: it would be visible in the process list."""
    if value is not None:
        raise UserError(REFUSED_PASSWORD_FLAG)


def publish(
    settings: Settings,
    project: Project,
    reference: str,
    registry: str,
    samples_dir: Path | None,
    *,
    network: bool = False,
    password_stdin: bool = False,
    username: str | None = None,
    write_conf: bool = True,
) -> Pushed:
    """Build, smoke-test and push: what `invoke push` and `invoke packdocker` both do."""
    build_step(settings, project, reference, network=network, write_conf=write_conf)
    smoke_step(settings, reference, samples_dir, conf_path=project.conf_path)
    return push_step(settings, reference, registry, password_stdin, username=username, project=project)
