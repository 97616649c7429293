"""How the service is deployed: the `uai.deploy` settings, in one table, and the figures
derived from them and from the server's knobs (probe timings, grace periods, the image).

Each setting is one `setting(...)` line in `DeploySettings`: its default, its bound and the
sentence that documents it. invoke.yaml's `deploy:` block is generated from this table
(`python -m devtools.generate` in the template). The Kubernetes manifests, the Swarm stack
and the Swarm tasks all read their numbers from here, so a probe, a grace period and the
server's drain can never disagree.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

from uaipack import UserError, server_module
from uaipack.settings import Project, Settings, split_reference

_env_name = server_module("httpserver.config").env_name  # the server's own `UAI_<KNOB>` rule

CONTAINER_PORT = 8080  # the server's port in the image (gunicorn.conf.py: PORT, default 8080)
READY_PATH = "/readyz"  # 200 once the model is loaded and the batching loop runs
ALIVE_PATH = "/healthz"  # 200 while the process answers
METRICS_PATH = "/metrics"
QUEUE_METRIC = "uai_queue_depth"  # the server's gauge of requests waiting for the batching loop
PROBE_PERIOD_S = 2  # how often the orchestrators ask /readyz (the image's HEALTHCHECK too)
HEALTH_RETRIES = 3  # failed health checks in a row before Docker calls a task unhealthy
ENDPOINT_MODES = ("vip", "dnsrr")
#: After its workers' grace period the gunicorn master still reaps them and runs its exit hooks.
STOP_MARGIN_S = 2
_TYPES = {"int": int, "float": float, "str": str}
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi)$")
_QUANTITIES = (
    ("cpu_request", _CPU, "500m, 1 or 1.5"),
    ("cpu_limit", _CPU, "500m, 1 or 1.5"),
    ("memory_request", _MEMORY, "512Mi or 1Gi"),
    ("memory_limit", _MEMORY, "512Mi or 1Gi"),
)


def setting(default: Any, *, help: str, minimum: float | None = None, choices: tuple[str, ...] = ()):
    """One line of the table below: the default, a lower bound or the allowed values, the help."""
    return dataclasses.field(default=default, metadata={"help": help, "minimum": minimum, "choices": choices})


@dataclasses.dataclass(frozen=True)
class DeploySettings:
    """`uai.deploy` in invoke.yaml: the one table of deployment settings."""

    name: str = setting(
        "", help="name of the Kubernetes objects and the Swarm stack (a DNS label); empty: the image's name"
    )
    image: str = setting(
        "", help="the image to run; empty: the digest the last `invoke push` recorded, else the tag"
    )
    canary_image: str = setting(
        "", help="the canary's image (overlays/canary, `invoke canary`); empty: the same as image"
    )
    replicas: int = setting(2, minimum=1, help="tasks or pods serving at once")
    max_replicas: int = setting(6, minimum=1, help="the autoscalers' ceiling (HorizontalPodAutoscaler, KEDA)")
    cpu_request: str = setting("500m", help="CPU reserved per replica (Kubernetes quantity: 500m, 1, 1.5)")
    cpu_limit: str = setting("2", help="CPU a replica may use at most")
    memory_request: str = setting("512Mi", help="memory reserved per replica (Ki, Mi, Gi)")
    memory_limit: str = setting("1Gi", help="memory a replica may use at most; above it the kernel kills it")
    target_cpu_percent: int = setting(70, minimum=1, help="the autoscaler adds replicas above this CPU use")
    target_queue_depth: int = setting(
        8, minimum=1, help="the autoscaler adds replicas above this many requests waiting per replica"
    )
    drain_pause_s: float = setting(
        5,
        minimum=0,
        help="Kubernetes' preStop pause: load balancers drop the pod before the server starts to drain",
    )
    port: int = setting(8080, minimum=1, help="the port the Kubernetes Service and the Swarm service publish")
    endpoint_mode: str = setting(
        "vip",
        choices=ENDPOINT_MODES,
        help="Swarm: vip (routing mesh, publishes port) or dnsrr (no mesh: a load balancer such as "
        "deploy/swarm/haproxy.cfg resolves tasks.<stack>_model)",
    )
    canary_weight: int = setting(
        10, minimum=0, help="percent of requests the canary overlay's HTTPRoute sends"
    )
    gateway: str = setting("gateway", help="the Gateway API Gateway the canary's HTTPRoute attaches to")
    prometheus_url: str = setting(
        "http://prometheus.monitoring.svc:9090", help="the Prometheus that KEDA asks for the queue depth"
    )
    image_pull_secret: str = setting(
        "", help="Kubernetes Secret (docker-registry) to pull a private image with; empty: none"
    )

    def __post_init__(self) -> None:
        problem = next(self._problems(), None)
        if problem:
            raise UserError(f"uai.deploy.{problem}.")

    def _problems(self):
        """Each setting that breaks its rule, as `<name> ...: what is allowed`."""
        for field in dataclasses.fields(self):
            value, rules = getattr(self, field.name), field.metadata
            if rules["minimum"] is not None and value < rules["minimum"]:
                yield f"{field.name} = {value} is too small; it must be at least {rules['minimum']:g}"
            if rules["choices"] and value not in rules["choices"]:
                yield f"{field.name} = {value!r} is not allowed; use one of: {', '.join(rules['choices'])}"
        for key, pattern, example in _QUANTITIES:
            if not pattern.match(str(getattr(self, key))):
                yield f"{key} {getattr(self, key)!r} is not an amount Kubernetes reads; write {example}"
        if self.name and not _DNS_LABEL.match(self.name):
            yield (
                f"name {self.name!r} is not a DNS label; use lower-case letters, digits and dashes, "
                "starting with a letter, at most 40 characters (e.g. mnist-inference)"
            )
        if self.max_replicas < self.replicas:
            yield f"max_replicas ({self.max_replicas}) is below replicas ({self.replicas}); raise it"
        if self.canary_weight > 100:
            yield f"canary_weight = {self.canary_weight} is over 100 (it is a percentage)"


def setting_specs() -> tuple[dataclasses.Field, ...]:
    """The table's rows, in order (for invoke.yaml's generated block)."""
    return dataclasses.fields(DeploySettings)


def swarm_monitor_s() -> int:
    """Swarm's update monitor window: long enough for a new task to turn unhealthy once."""
    return PROBE_PERIOD_S * HEALTH_RETRIES


def deploy_settings(settings: Settings) -> DeploySettings:
    """`uai.deploy` typed and checked; an unknown key is one line naming the known ones."""
    known = {field.name: field for field in setting_specs()}
    given = dict(settings.deploy)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UserError(
            f"invoke.yaml has unknown setting(s) uai.deploy.{', uai.deploy.'.join(unknown)}; "
            f"use one of: {', '.join(known)}."
        )
    values = {}
    for key, raw in given.items():
        kind = _TYPES[known[key].type]
        try:
            values[key] = kind(raw) if raw is not None else known[key].default
        except (TypeError, ValueError):
            raise UserError(f"uai.deploy.{key} = {raw!r} is not {kind.__name__}; see invoke.yaml.") from None
    return DeploySettings(**values)


@dataclasses.dataclass(frozen=True)
class Deployment:
    """Everything the manifests and the Swarm tasks need, derived once from the settings."""

    name: str
    image: str
    canary_image: str
    image_source: str  # where the image came from, for the user: "the last push", "uai.deploy.image", ...
    deploy: DeploySettings
    server: dict[str, Any]
    startup_timeout_s: float

    @property
    def grace_period_s(self) -> int:
        """Kubernetes' terminationGracePeriodSeconds: the preStop pause, then the server's stop."""
        return math.ceil(self.deploy.drain_pause_s) + self.stop_grace_period_s

    @property
    def stop_grace_period_s(self) -> int:
        """Swarm's stop_grace_period (no preStop there): the server's own stop, see `stop_timeout_s`."""
        return stop_timeout_s(self.server["graceful_timeout_s"])

    @property
    def proxy_timeout_s(self) -> int:
        """HAProxy's client and server timeouts: a request may wait its request_timeout_s, and
        the answer of one accepted just before a stop comes within the drain too."""
        return math.ceil(self.server["graceful_timeout_s"] + self.server["request_timeout_s"])

    @property
    def startup_failure_threshold(self) -> int:
        """startupProbe failures allowed: the whole startup time at one probe per period."""
        return max(1, math.ceil(self.startup_timeout_s / PROBE_PERIOD_S))

    @property
    def server_environment(self) -> dict[str, str]:
        """The server knobs as `UAI_<KNOB>` variables (they override the image's conf.json)."""
        return {_env_name(name): _env_value(value) for name, value in self.server.items()}

    @property
    def swarm_limits(self) -> dict[str, str]:
        return {"cpus": cpus(self.deploy.cpu_limit), "memory": swarm_memory(self.deploy.memory_limit)}

    @property
    def swarm_reservations(self) -> dict[str, str]:
        return {"cpus": cpus(self.deploy.cpu_request), "memory": swarm_memory(self.deploy.memory_request)}


def stop_timeout_s(graceful_timeout_s: float) -> int:
    """How long the server may take to stop after SIGTERM: the workers' drain (gunicorn kills
    them at graceful_timeout_s), then the master's exit. With the default of 8 s, docker stop's
    own 10 s. The image's label, Swarm's stop_grace_period and (after the preStop pause)
    Kubernetes' terminationGracePeriodSeconds are this figure."""
    return max(1, round(graceful_timeout_s)) + STOP_MARGIN_S


def deployment(settings: Settings, project: Project) -> Deployment:
    """The deployment of this project as the settings and the last push describe it."""
    deploy = deploy_settings(settings)
    image, source = chosen_image(settings, deploy, project)
    name = deploy.name or default_name(settings.image_name)
    return Deployment(
        name=name,
        image=image,
        canary_image=deploy.canary_image or image,
        image_source=source,
        deploy=deploy,
        server=dict(settings.server),
        startup_timeout_s=float(settings.startup_timeout_s),
    )


def chosen_image(settings: Settings, deploy: DeploySettings, project: Project) -> tuple[str, str]:
    """(image, where it came from): uai.deploy.image, else the last push's digest, else the tag."""
    if deploy.image:
        return deploy.image, "uai.deploy.image"
    reference = dataclasses.replace(settings, in_host=False).image_reference()
    pushed = last_push(project) or {}
    # The last push counts while it was of this image, to the registry or (--in-host) the internal one.
    if pushed.get("reference") in (reference, _internal_reference(settings)) and pushed.get("digest"):
        return f"{split_reference(pushed['reference'])[0]}@{pushed['digest']}", "the digest of the last push"
    return reference, "by tag: no push of it recorded yet; `invoke push` records the digest"


def _internal_reference(settings: Settings) -> str | None:
    return (
        dataclasses.replace(settings, in_host=True).image_reference() if settings.internal_registry else None
    )


def last_push_path(project: Project) -> Path:
    return project.work_dir / "last-push.json"


def record_push(project: Project, reference: str, digest: str) -> None:
    """Remember what `invoke push` sent, so that the manifests name the image by digest."""
    path = last_push_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"reference": reference, "digest": digest}, indent=2) + "\n", encoding="utf-8")


def last_push(project: Project) -> dict[str, str] | None:
    try:
        return json.loads(last_push_path(project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def default_name(image_name: str) -> str:
    """A DNS label from the image's name: `mnist-inference:test` -> `mnist-inference`."""
    base = image_name.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    label = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:40].rstrip("-")
    if not label or not label[0].isalpha():
        label = f"uai-{label}".rstrip("-")
    return label


def cpus(quantity: str) -> str:
    """A Kubernetes CPU quantity (500m, 2) as Docker's decimal cpus (0.5, 2)."""
    text = str(quantity)
    value = int(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return f"{value:g}"


def swarm_memory(quantity: str) -> str:
    """A Kubernetes memory quantity (512Mi, 1Gi) in Docker's units, which are binary too (512M, 1G)."""
    number, unit = _MEMORY.match(str(quantity)).groups()
    return f"{number}{unit[0].upper() if unit != 'Ki' else 'k'}"


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
