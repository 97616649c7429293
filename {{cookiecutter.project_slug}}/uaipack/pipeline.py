"""The user's journey as steps shared by the tasks: conf, build, smoke-test, push.

Steps take `(settings, project)` (the push needs only the settings): the task's flags are
already in the settings, and nothing reads conf.json again after the build checked it (the
build labels the image with the body limit its conf sets; the smoke test reads it there).
`invoke push` and `invoke packdocker` run the same steps; each prints its result in one
readable line, and the push ends with UAI's success line.
"""

from __future__ import annotations

import sys
from typing import IO

from uaipack import UserError
from uaipack.build import BuiltImage, build_image
from uaipack.conf import ensure_conf, load_conf
from uaipack.deployment import record_push
from uaipack.progress import human_bytes, say
from uaipack.push import REFUSED_PASSWORD_FLAG, Pushed, login, push_image, read_password, user_name
from uaipack.samples import find_samples
from uaipack.settings import Project, Settings
from uaipack.smoke import SmokeReport, smoke_test

SUCCESS_LINE = "upload docker images successful. images:{reference}"


def build_step(settings: Settings, project: Project) -> BuiltImage:
    """Check the conf once (written from the settings, or the given one as it is), then build."""
    conf = ensure_conf(settings, project) if project.writes_conf else load_conf(project)
    network = " (network allowed)" if settings.network_build else ""
    say(f"building {settings.image_reference()} from {settings.base_image}{network}")
    built = build_image(settings, project, conf)
    say(
        f"built {built.reference}: image {built.image_id[7:19]}, {human_bytes(built.size)} "
        f"({human_bytes(built.size - built.base_size)} over the base), {built.cached_steps}/{built.steps} "
        f"steps cached, {built.seconds:.1f} s",
        style="green",
    )
    return built


def smoke_step(settings: Settings, project: Project) -> SmokeReport:
    """Run the image and check it with the project's samples (readiness and refusals without any)."""
    samples = find_samples(project.samples_dir) if project.samples_dir is not None else []
    if not samples:
        say("no samples for this code: checking readiness and refusals only")
    return smoke_test(settings.image_reference(), samples, settings.startup_timeout_s)


def push_step(settings: Settings, stdin: IO[str] = sys.stdin, project: Project | None = None) -> Pushed:
    """Log in (password from stdin, UHUB_PASSWORD or Docker's store), push, check the digest;
    with `project`, record the digest there, so that `invoke manifests` names the image by it."""
    password = read_password(settings.password_stdin, stdin)
    registry = settings.registry_host()
    login(registry, user_name(settings), password)
    pushed = push_image(settings.image_reference(), attempts=settings.push_attempts, password=password)
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


def publish(settings: Settings, project: Project) -> Pushed:
    """Build, smoke-test and push: what `invoke push` and `invoke packdocker` both do."""
    build_step(settings, project)
    smoke_step(settings, project)
    return push_step(settings, project=project)
