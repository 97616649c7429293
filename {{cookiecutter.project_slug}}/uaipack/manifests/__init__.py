"""`invoke manifests`: write deploy/ (Kubernetes kustomize base and overlays, a Swarm stack and
its load balancer) from the project's settings, and never lose a user's edit.

Each file is rendered from the template of the same name here (`*.j2`; `_macros.j2` holds
the parts the Kubernetes files share) and starts with a header line that carries the
digest of what was generated. A rerun overwrites a file only while it is still exactly as
generated (its body matches that digest); a file the user edited (or whose header was
removed) is kept, the new version goes beside it as `<file>.new`, and the summary says how
many lines differ. `--force` overwrites edited files too.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
from pathlib import Path

import jinja2

from uaipack import deployment as deployments
from uaipack.deployment import Deployment

TEMPLATES = Path(__file__).resolve().parent
HEADER = "# Written by `invoke manifests` from invoke.yaml (generated {digest}). Edit freely: a rerun keeps\n"
HEADER_NOTE = "# your edits and writes <file>.new beside an edited file instead.\n"
_HEADER_DIGEST = re.compile(r"^# Written by `invoke manifests` .*\(generated (sha256:[0-9a-f]{16})\)")
CREATED, UPDATED, UNCHANGED, KEPT = "created", "updated", "unchanged", "kept your edits"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one file of deploy/."""

    path: Path
    action: str
    changed_lines: int = 0  # for KEPT: lines that differ between the user's file and the .new one

    @property
    def new_path(self) -> Path:
        return self.path.with_name(self.path.name + ".new")


def render_all(deployment: Deployment) -> dict[str, str]:
    """Every file of deploy/ (relative path -> body without the header), from the templates."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    context = template_context(deployment)
    files = {}
    for template in sorted(TEMPLATES.rglob("*.j2")):
        if template.name.startswith("_"):
            continue
        relative = template.relative_to(TEMPLATES).with_suffix("").as_posix()
        text = environment.get_template(template.relative_to(TEMPLATES).as_posix()).render(context)
        files[relative] = text.rstrip("\n") + "\n"
    return files


def template_context(deployment: Deployment) -> dict:
    """What the templates may use: the deployment and the server's fixed facts."""
    return {
        "d": deployment,
        "port": deployments.CONTAINER_PORT,
        "ready_path": deployments.READY_PATH,
        "alive_path": deployments.ALIVE_PATH,
        "metrics_path": deployments.METRICS_PATH,
        "queue_metric": deployments.QUEUE_METRIC,
        "probe_period": deployments.PROBE_PERIOD_S,
        "monitor_s": deployments.swarm_monitor_s(),
        "client_timeout_s": deployment.proxy_timeout_s,
        "stop_margin_s": deployments.STOP_MARGIN_S,
        "template_slots": deployment.deploy.max_replicas,
    }


def with_header(body: str) -> str:
    return HEADER.format(digest=body_digest(body)) + HEADER_NOTE + body


def body_digest(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def is_as_generated(text: str) -> bool:
    """True when a file still carries our header and its body is exactly what we generated."""
    first, _, rest = text.partition("\n")
    match = _HEADER_DIGEST.match(first)
    if not match:
        return False
    note, _, body = rest.partition("\n")
    return note + "\n" == HEADER_NOTE and body_digest(body) == match.group(1)


def write_manifests(deployment: Deployment, deploy_dir: Path, force: bool = False) -> list[Outcome]:
    """Write every file under `deploy_dir`; edited files are kept unless `force`."""
    return [
        write_one(deploy_dir / relative, with_header(body), force)
        for relative, body in render_all(deployment).items()
    ]


def write_one(path: Path, content: str, force: bool) -> Outcome:
    new_path = path.with_name(path.name + ".new")
    existing = path.read_text(encoding="utf-8") if path.is_file() else None
    if existing == content:
        new_path.unlink(missing_ok=True)  # an old proposal that is no longer needed
        return Outcome(path, UNCHANGED)
    if existing is not None and not force and not is_as_generated(existing):
        new_path.write_text(content, encoding="utf-8")
        return Outcome(path, KEPT, changed_lines(existing, content))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    new_path.unlink(missing_ok=True)
    return Outcome(path, CREATED if existing is None else UPDATED)


def changed_lines(old: str, new: str) -> int:
    """Lines added or removed between two versions (the header's digest line counts too)."""
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))


def report(outcomes: list[Outcome], deployment: Deployment, root: Path) -> None:
    """Say what was written, what the numbers came from, and where edits were kept."""
    from uaipack.progress import say, show_table

    show_table(
        "invoke manifests",
        ["file", "what happened"],
        [(outcome.path.relative_to(root).as_posix(), outcome.action) for outcome in outcomes],
    )
    d, server = deployment, deployment.server
    canary = "the same image" if d.canary_image == d.image else d.canary_image
    say(f"image {d.image} ({d.image_source}); canary: {canary}")
    say(
        f"{d.deploy.replicas} replicas (autoscaled up to {d.deploy.max_replicas}); startup up to "
        f"{d.startup_timeout_s:g} s; grace period {d.grace_period_s} s = pause {d.deploy.drain_pause_s:g} "
        f"+ drain {server['graceful_timeout_s']:g} + the master's exit {deployments.STOP_MARGIN_S}"
    )
    for outcome in outcomes:
        if outcome.action == KEPT:
            shown = outcome.path.relative_to(root).as_posix()
            say(
                f"{shown} has your edits: kept it; the new version is {shown}.new "
                f"({outcome.changed_lines} lines differ: `diff -u {shown} {shown}.new`; "
                "take it with `mv`, or rerun with --force to overwrite)",
                style="yellow",
            )
