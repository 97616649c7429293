"""`invoke build`: render uaiservice.Dockerfile, stage a minimal context, build with the docker SDK.

The context holds only what the image needs (server, model files, code, conf, samples, wheels),
split so that the Dockerfile's layers change as rarely as possible. Builds run with no
network unless asked; every chunk of the build stream is checked for errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import docker
import jinja2

from uaipack import UserError, engine, packages, server_module
from uaipack.conf import conf_digest
from uaipack.deployment import HEALTH_RETRIES, PROBE_PERIOD_S, stop_timeout_s
from uaipack.progress import BuildSteps, say
from uaipack.settings import Project, Settings

# Where the server lives inside the image: UAI's path, kept so existing start commands work.
# (On the host the server's root is a project's server/ folder; httpserver.config.SERVER_ROOT
# is "wherever the server runs".)
IMAGE_SERVER_ROOT = "/ai-ucloud-client-django"
BODY_LIMIT_LABEL = "ai.uaipack.server.max_body_bytes"  # read by the smoke test of this image
# How long `docker stop` must wait for this image (`docker run --stop-timeout`); Docker's own 10 s
# with the default server.graceful_timeout_s.
STOP_TIMEOUT_LABEL = "ai.uaipack.stop-timeout"
RUNTIME_VERSION_LABEL = "ai.uaipack.runtime.version"  # httpserver.version: which runtime it runs
RUNTIME_COMMIT_LABEL = "ai.uaipack.runtime.commit"
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_NEVER_STAGED = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".pytest_cache", ".DS_Store")


@dataclasses.dataclass(frozen=True)
class BuiltImage:
    reference: str
    image_id: str
    size: int
    base_size: int
    seconds: float
    steps: int
    cached_steps: int


def build_image(settings: Settings, project: Project, conf: dict[str, Any]) -> BuiltImage:
    """Resolve packages, stage the context and build the settings' image from this checked conf."""
    started = time.monotonic()
    reference, network = settings.image_reference(), settings.network_build
    base = require_base_image(settings.base_image)
    context = stage_context(settings, project, conf, network)
    previous = _image_id(reference)
    image_id, steps, cached = run_build(context, reference, network, settings.no_cache)
    if previous and previous != image_id:
        _remove_quietly(previous)  # the tag moved on; don't leave a dangling image behind
    image = engine.client().images.get(image_id)
    return BuiltImage(
        reference,
        image_id,
        image.attrs["Size"],
        base.attrs["Size"],
        time.monotonic() - started,
        steps,
        cached,
    )


def require_base_image(base_image: str) -> docker.models.images.Image:
    image = engine.find_image(base_image)
    if image is None:
        raise UserError(
            f"the base image {base_image} is not on this Docker engine; pull it (`docker pull {base_image}`) "
            "or build the local one with `invoke base-image` and set uai.base_image to it."
        )
    return image


def stage_context(settings: Settings, project: Project, conf: dict[str, Any], network: bool) -> Path:
    """Write the build context under .uaipack/context and uaiservice.Dockerfile beside the template."""
    context = project.work_dir / "context"
    if context.exists():
        shutil.rmtree(context)
    resolved = packages.resolve(settings, project, network)
    packages.report(resolved, project.code_dir)
    packages.stage(resolved, context)
    shutil.copytree(
        project.server_dir,
        context / "server",
        ignore=shutil.ignore_patterns("requirements.txt", "tests", "__pycache__", "*.pyc"),
    )
    stage_code(project, conf, context)
    shutil.copyfile(project.conf_path, context / "conf.json")
    stage_samples(project, context)
    make_readable(context)
    dockerfile = render_dockerfile(
        project,
        settings.base_image,
        network,
        image_labels(settings, project, conf),
        startup_timeout_s=settings.startup_timeout_s,
    )
    project.dockerfile.write_text(dockerfile, encoding="utf-8")
    (context / "uaiservice.Dockerfile").write_text(dockerfile, encoding="utf-8")
    return context


def stage_code(project: Project, conf: dict[str, Any], context: Path) -> None:
    """code/ minus the model folder into code/, the model folder into model/ (its own layer)."""
    frameworks = server_module("uai.frameworks")
    _, section = frameworks.framework_section(conf["http_server"])
    model_dir = frameworks.model_dir(section, project.code_dir)
    inside_code = model_dir != project.code_dir and project.code_dir in model_dir.parents
    ignore_model = _ignoring(model_dir) if inside_code else _NEVER_STAGED
    shutil.copytree(project.code_dir, context / "code", ignore=ignore_model)
    (context / "model").mkdir()
    if inside_code and model_dir.is_dir():
        shutil.copytree(
            model_dir, context / "model" / model_dir.relative_to(project.code_dir), ignore=_NEVER_STAGED
        )


def stage_samples(project: Project, context: Path) -> None:
    """samples/ for the image's console page and OpenAPI examples (empty when there are none)."""
    if project.samples_dir is not None and project.samples_dir.is_dir():
        shutil.copytree(project.samples_dir, context / "samples", ignore=_NEVER_STAGED)
    else:
        (context / "samples").mkdir()


def _ignoring(excluded: Path):
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(_NEVER_STAGED(folder, names))
        return skipped | {name for name in names if Path(folder, name) == excluded}

    return ignore


def make_readable(root: Path) -> None:
    """The server runs as a non-root user: every staged file must be readable by it."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | (0o755 if path.is_dir() else 0o644))


def render_dockerfile(
    project: Project, base_image: str, network: bool, labels: dict[str, str], *, startup_timeout_s: float
) -> str:
    if not project.dockerfile_template.is_file():
        raise UserError(f"{project.dockerfile_template} is missing; restore it from the template.")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    template = environment.from_string(project.dockerfile_template.read_text(encoding="utf-8"))
    return template.render(
        base_image=base_image,
        network_build=network,
        labels=labels,
        server_root=IMAGE_SERVER_ROOT,
        startup_timeout_s=round(startup_timeout_s),
        health_interval_s=PROBE_PERIOD_S,
        health_retries=HEALTH_RETRIES,
    )


def image_labels(settings: Settings, project: Project, conf: dict[str, Any]) -> dict[str, str]:
    """OCI labels, the runtime this image runs (version, commit) and what it serves (conf digest,
    framework, body limit)."""
    framework, _ = server_module("uai.frameworks").framework_section(conf["http_server"])
    runtime = server_module("httpserver.version").runtime_info()
    knobs = server_module("httpserver.config").server_settings(conf, environ={})
    labels = {
        "org.opencontainers.image.created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "org.opencontainers.image.title": settings.image_name,
        "org.opencontainers.image.source": git_source(project.root) or f"local:{project.root.name}",
        "org.opencontainers.image.base.name": settings.base_image,
        RUNTIME_VERSION_LABEL: runtime["version"],
        RUNTIME_COMMIT_LABEL: runtime["commit"],
        "ai.uaipack.conf.digest": conf_digest(conf),
        "ai.uaipack.framework": framework,
        BODY_LIMIT_LABEL: str(knobs.max_body_bytes),
        STOP_TIMEOUT_LABEL: str(stop_timeout_s(knobs.graceful_timeout_s)),
    }
    revision = _git(project.root, "rev-parse", "HEAD")
    if revision:
        labels["org.opencontainers.image.revision"] = revision
    return labels


def git_source(root: Path) -> str | None:
    """The origin URL without any user or token in it (those must never reach an image)."""
    url = _git(root, "config", "--get", "remote.origin.url")
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme and parts.hostname:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def run_build(context: Path, reference: str, network: bool, no_cache: bool = False) -> tuple[str, int, int]:
    """Stream the build with progress; returns (image id, steps, cached steps)."""
    client = engine.client()
    recent: list[str] = []
    image_id, steps, cached = None, 0, 0
    stream = client.api.build(
        path=str(context),
        dockerfile="uaiservice.Dockerfile",
        tag=reference,
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        nocache=no_cache,
        use_config_proxy=False,
        network_mode=None if network else "none",
    )
    with BuildSteps() as display:
        for chunk in stream:
            if "error" in chunk or "errorDetail" in chunk:
                message = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error")
                for line in recent[-15:]:
                    say(f"    {line}", style="dim")
                raise UserError(f"the image build failed: {message.strip()}; see the output above.")
            for line in chunk.get("stream", "").splitlines():
                if match := _STEP.match(line):
                    steps = int(match.group(2))
                    display.step(int(match.group(1)), steps, match.group(3))
                elif line.strip() == "---> Using cache":
                    cached += 1
                    display.cached()
                elif line.strip():
                    recent.append(line.rstrip())
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
        display.done()
    if not image_id:
        raise UserError("the engine finished the build without an image id; run `invoke build` again.")
    return image_id, steps, cached


def _image_id(reference: str) -> str | None:
    image = engine.find_image(reference)
    return image.id if image is not None else None


def _remove_quietly(image_id: str) -> None:
    with contextlib.suppress(docker.errors.APIError):  # still used by a container or tag: keep it
        engine.client().images.remove(image_id)


def _git(root: Path, *arguments: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *arguments], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None
