"""`invoke manifests`: what deploy/ holds, that it is valid for Kubernetes and agrees with the server.

Every rendered object (the base and each overlay, through `kubectl kustomize`) is checked
against the official schemas of two Kubernetes versions in strict mode (kubernetes-validate
ships them; no network). Custom resources, whose schemas cannot be had offline, get field
tests; KServe's predictor is a PodSpec, so that part is checked against the official schema.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from deploy.support import by_kind, kustomize, project_settings, render

# The oldest release with the preStop sleep action on by default (beta), and the newest the
# validator ships: the manifests must hold for both.
KUBERNETES_VERSIONS = ("1.30", "1.37")
BUILDS = {
    "base": (),
    "canary": ("overlays", "canary"),
    "kserve": ("overlays", "kserve"),
    "keda": ("overlays", "keda"),
}
KINDS = {
    "base": {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"},
    "canary": {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "HTTPRoute"},
    "kserve": {"InferenceService"},
    "keda": {"Deployment", "Service", "PodDisruptionBudget", "ScaledObject"},
}
CUSTOM = {"HTTPRoute", "InferenceService", "ScaledObject"}


def build(project, name: str) -> list[dict]:
    return kustomize(project.joinpath("deploy", "k8s", *BUILDS[name]))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, deploy_baked):
    """deploy/ of the baked project with its defaults, built once per overlay."""
    import shutil

    project = tmp_path_factory.mktemp("rendered") / deploy_baked.name
    shutil.copytree(deploy_baked, project)
    deployment, _ = render(project)
    return deployment, {name: build(project, name) for name in BUILDS}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", list(BUILDS))
def test_every_rendered_object_validates_against_the_official_schema_in_strict_mode(rendered, name, version):
    _, builds = rendered
    objects = builds[name]
    assert {item["kind"] for item in objects} == KINDS[name]
    for item in objects:
        if item["kind"] not in CUSTOM:
            kubernetes_validate.validate(item, version, strict=True)


def test_strict_validation_would_refuse_a_misspelt_field(rendered):
    _, builds = rendered
    deployment = json.loads(json.dumps(by_kind(builds["base"])["Deployment"][0]))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {
        "httpGet": {"path": "/readyz"}
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def server_routes() -> set[str]:
    """The paths the server's URL conf answers (httpserver.urls), as /paths."""
    from uaipack import SERVER_DIR

    sys.path.insert(0, str(SERVER_DIR))
    try:
        from httpserver import urls
    finally:
        sys.path.remove(str(SERVER_DIR))
    return {"/" + str(pattern.pattern) for pattern in urls.urlpatterns}


def server_port() -> int:
    """The port gunicorn.conf.py binds when nothing overrides it. Read in a process of its own:
    the conf prepares the metrics directory and names it in the environment, which every
    server a test starts later from this process would inherit."""
    from uaipack import SERVER_DIR

    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PORT", "BIND_HOST", "UAI_SERVICE_CONFIG", "PROMETHEUS_MULTIPROC_DIR")
    }
    script = "import runpy, sys; print(runpy.run_path(sys.argv[1])['bind'])"
    bind = subprocess.run(
        [sys.executable, "-c", script, str(SERVER_DIR / "gunicorn.conf.py")],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    return int(bind.rsplit(":", 1)[1])


def test_probes_ask_the_servers_own_routes_on_its_own_port(rendered, monkeypatch):
    _, builds = rendered
    container = by_kind(builds["base"])["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": server_port()}
    routes = server_routes()
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"/readyz", "/healthz", "/metrics"} <= routes


def test_the_grace_period_covers_the_pause_the_servers_drain_and_the_masters_exit(project_dir):
    from httpserver.config import knob_specs
    from uaipack.deployment import STOP_MARGIN_S

    knobs = {spec.name for spec in knob_specs()}
    assert {"graceful_timeout_s", "request_timeout_s"} <= knobs  # the knobs the grace period is made of
    server = {"graceful_timeout_s": 12, "request_timeout_s": 7.5}
    deployment, _ = render(project_dir, server=server, deploy={"drain_pause_s": 3})
    pod = by_kind(build(project_dir, "base"))["Deployment"][0]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 3 + 12 + STOP_MARGIN_S == 17
    assert pod["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": 3}}
    stack = swarm_stack(project_dir)
    assert stack["services"]["model"]["stop_grace_period"] == "14s"
    haproxy = (project_dir / "deploy" / "swarm" / "haproxy.cfg").read_text()
    assert f"timeout server {math.ceil(12 + 7.5)}s" in haproxy  # a request's wait, then the drain
    environment = {item["name"]: item["value"] for item in pod["containers"][0]["env"]}
    assert environment["UAI_GRACEFUL_TIMEOUT_S"] == "12" and environment["UAI_REQUEST_TIMEOUT_S"] == "7.5"


def test_the_startup_time_is_one_setting_for_the_probes_the_health_check_and_the_smoke_test(project_dir):
    from uaipack import build as builds
    from uaipack.settings import Project

    deployment, _ = render(project_dir, startup_timeout_s=45)
    probe = by_kind(build(project_dir, "base"))["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    startup = probe["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 45
    assert (startup["failureThreshold"] - 1) * startup["periodSeconds"] < 45
    assert swarm_stack(project_dir)["services"]["model"]["healthcheck"]["start_period"] == "45s"
    dockerfile = builds.render_dockerfile(Project.at(project_dir), "base:1", False, {}, startup_timeout_s=45)
    assert "--start-period=45s" in dockerfile and "/readyz" in dockerfile.split("HEALTHCHECK", 1)[1]


def test_the_pods_meet_the_restricted_pod_security_profile(rendered):
    _, builds = rendered
    for deployment in by_kind(builds["canary"])["Deployment"]:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert set(container["resources"]) == {"requests", "limits"}
        assert "volumes" not in pod  # read-only root and nothing mounted: the image writes to /dev/shm only
        assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }


def test_the_autoscaler_follows_cpu_and_the_servers_queue_depth_metric(rendered):
    from httpserver.metrics import Metrics
    from prometheus_client.parser import text_string_to_metric_families

    exported = {family.name for family in text_string_to_metric_families(Metrics().render())}
    _, builds = rendered
    hpa = by_kind(builds["base"])["HorizontalPodAutoscaler"][0]["spec"]
    assert hpa["scaleTargetRef"]["name"] == by_kind(builds["base"])["Deployment"][0]["metadata"]["name"]
    names = [
        metric.get("resource", metric.get("pods", {}).get("metric", {})).get("name")
        for metric in hpa["metrics"]
    ]
    assert names[0] == "cpu" and names[1] in exported and names[1] == "uai_queue_depth"


def test_the_canary_overlay_adds_a_second_deployment_and_splits_requests_by_the_canary_weight(project_dir):
    deployment, _ = render(
        project_dir, deploy={"canary_weight": 25, "canary_image": "registry.example:5000/x/y:v2"}
    )
    objects = by_kind(build(project_dir, "canary"))
    stable, canary = sorted(objects["Deployment"], key=lambda item: item["metadata"]["name"])
    assert canary["metadata"]["name"] == stable["metadata"]["name"] + "-canary"
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example:5000/x/y:v2"
    services = {item["metadata"]["name"]: item["spec"]["selector"]["track"] for item in objects["Service"]}
    assert services == {stable["metadata"]["name"]: "stable", canary["metadata"]["name"]: "canary"}
    route = objects["HTTPRoute"][0]
    check_fields(route, HTTPROUTE_FIELDS)
    weights = {ref["name"]: ref["weight"] for ref in route["spec"]["rules"][0]["backendRefs"]}
    assert weights == {stable["metadata"]["name"]: 75, canary["metadata"]["name"]: 25}


def test_the_kserve_overlay_serves_our_image_as_a_custom_predictor_whose_pod_spec_is_valid(rendered):
    deployment, builds = rendered
    service = by_kind(builds["kserve"])["InferenceService"][0]
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = dict(service["spec"]["predictor"])
    extension = {key: predictor.pop(key) for key in KSERVE_COMPONENT_FIELDS if key in predictor}
    assert (
        extension["minReplicas"] == deployment.deploy.replicas and extension["scaleMetric"] == "concurrency"
    )
    assert predictor["containers"][0]["name"] == "kserve-container"
    assert predictor["containers"][0]["image"] == deployment.image
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "predictor"}, "spec": predictor}
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(pod, version, strict=True)


def test_the_keda_overlay_scales_on_the_prometheus_queue_depth_and_drops_the_hpa(rendered):
    deployment, builds = rendered
    objects = by_kind(builds["keda"])
    assert "HorizontalPodAutoscaler" not in objects  # KEDA makes its own
    scaled = objects["ScaledObject"][0]
    check_fields(scaled, SCALEDOBJECT_FIELDS)
    triggers = {trigger["type"]: trigger["metadata"] for trigger in scaled["spec"]["triggers"]}
    assert (
        "uai_queue_depth" in triggers["prometheus"]["query"]
        and deployment.name in triggers["prometheus"]["query"]
    )
    assert triggers["prometheus"]["threshold"] == str(deployment.deploy.target_queue_depth)
    for metadata in triggers.values():  # KEDA reads trigger metadata as a map of strings
        assert all(isinstance(value, str) for value in metadata.values())


def swarm_stack(project) -> dict:
    return yaml.safe_load((project / "deploy" / "swarm" / "stack.yml").read_text())


def test_the_swarm_stack_updates_start_first_rolls_back_on_failure_and_runs_read_only(project_dir):
    deployment, _ = render(project_dir, deploy={"replicas": 3})
    model = swarm_stack(project_dir)["services"]["model"]
    assert model["image"] == deployment.image and model["deploy"]["replicas"] == 3
    update = model["deploy"]["update_config"]
    assert (update["order"], update["failure_action"], update["parallelism"]) == (
        "start-first",
        "rollback",
        1,
    )
    assert (
        int(update["monitor"].rstrip("s")) > 0
        and model["deploy"]["rollback_config"]["order"] == "start-first"
    )
    assert model["read_only"] is True and model["cap_drop"] == ["ALL"]
    assert "tmpfs" not in model and "volumes" not in model  # nothing mounted: /dev/shm is enough
    assert set(model["deploy"]["resources"]) == {"limits", "reservations"}
    assert model["ports"][0]["mode"] == "ingress"  # the routing mesh by default


def test_with_dnsrr_the_stack_publishes_nothing_and_the_load_balancer_resolves_its_tasks(project_dir):
    deployment, _ = render(project_dir, deploy={"endpoint_mode": "dnsrr", "name": "shop"})
    stack = swarm_stack(project_dir)
    assert stack["services"]["model"]["deploy"]["endpoint_mode"] == "dnsrr"
    assert "ports" not in stack["services"]["model"]
    assert stack["networks"]["service"]["attachable"] is True
    config = (project_dir / "deploy" / "swarm" / "haproxy.cfg").read_text()
    assert "tasks.shop_model:8080" in config and "tasks.shop_canary:8080" in config
    assert "option httpchk GET /readyz" in config and "nameserver docker 127.0.0.11:53" in config
    assert (
        set(stack["services"]) == {"model", "canary"}
        and stack["services"]["canary"]["deploy"]["replicas"] == 0
    )


def test_the_image_is_named_by_the_last_pushs_digest_else_by_its_tag(project_dir):
    from uaipack.deployment import record_push
    from uaipack.settings import Project

    settings = project_settings(project_dir)
    tag_reference = settings.image_reference()
    deployment, _ = render(project_dir)
    assert deployment.image == tag_reference
    digest = "sha256:" + "a" * 64
    record_push(Project.at(project_dir), tag_reference, digest)
    deployment, _ = render(project_dir)
    assert deployment.image == tag_reference.rsplit(":", 1)[0] + "@" + digest
    record_push(Project.at(project_dir), "registry.example:5000/other/image:v1", digest)
    assert render(project_dir)[0].image == tag_reference  # a push of another image does not count


def test_a_rerun_keeps_a_users_edit_and_writes_the_new_version_beside_it(project_dir):
    from uaipack import manifests

    render(project_dir)
    edited = project_dir / "deploy" / "k8s" / "base" / "service.yaml"
    edited.write_text(edited.read_text().replace("type: ClusterIP", "type: LoadBalancer"))
    _, outcomes = render(project_dir, deploy={"port": 9000})
    actions = {
        outcome.path.name: outcome.action for outcome in outcomes if outcome.path.parent.name == "base"
    }
    assert actions["service.yaml"] == manifests.KEPT
    assert "type: LoadBalancer" in edited.read_text() and "port: 8080" in edited.read_text()
    proposal = edited.with_name("service.yaml.new").read_text()
    assert "port: 9000" in proposal and manifests.is_as_generated(proposal)
    assert actions["deployment.yaml"] == manifests.UNCHANGED and actions["hpa.yaml"] == manifests.UNCHANGED


def test_an_unedited_file_follows_the_settings_and_an_unchanged_rerun_rewrites_nothing(project_dir):
    from uaipack import manifests

    render(project_dir)
    service = project_dir / "deploy" / "k8s" / "base" / "service.yaml"
    before = service.stat().st_mtime_ns
    _, outcomes = render(project_dir)
    assert {outcome.action for outcome in outcomes} == {manifests.UNCHANGED}
    assert service.stat().st_mtime_ns == before
    _, outcomes = render(project_dir, deploy={"port": 9000})
    assert "port: 9000" in service.read_text()
    assert not service.with_name("service.yaml.new").exists()


def test_the_manifests_task_says_what_it_wrote_and_refuses_a_bad_setting_in_one_line(project_dir):
    invoke = [sys.executable, "-m", "invoke"]
    done = subprocess.run(
        [*invoke, "manifests"], cwd=project_dir, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "deploy/k8s/base/deployment.yaml" in done.stdout and "created" in done.stdout
    from uaipack.settings import SERVER_DEFAULTS

    drain = SERVER_DEFAULTS["graceful_timeout_s"]
    assert drain == 8  # docker stop's 10 s: the drain and the master's exit
    assert f"grace period 15 s = pause 5 + drain {drain:g} + the master's exit 2" in done.stdout
    bad = subprocess.run(
        [*invoke, "manifests"],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "INVOKE_UAI_DEPLOY_CPU_LIMIT": "lots"},
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "error: uai.deploy.cpu_limit 'lots' is not an amount Kubernetes reads; write 500m, 1 or 1.5."
    ]


def check_fields(item: dict, allowed: dict) -> None:
    """Every key of `item` is one the custom resource's own CRD defines (nested dicts recurse;
    a list's items are checked against the spec under its key)."""
    for key, value in item.items():
        assert key in allowed, f"{key!r} is not a field here; known: {sorted(allowed)}"
        rule = allowed[key]
        values = value if isinstance(value, list) else [value]
        if isinstance(rule, dict):
            for each in values:
                check_fields(each, rule)


# The fields we use, with their CRDs' documented siblings (Gateway API v1.2 HTTPRoute, KEDA 2.16
# ScaledObject, KServe v1beta1 ComponentExtensionSpec); None: a leaf, not checked further.
METADATA = None
HTTPROUTE_FIELDS = {
    "apiVersion": None,
    "kind": None,
    "metadata": METADATA,
    "spec": {
        "parentRefs": {
            "group": None,
            "kind": None,
            "namespace": None,
            "name": None,
            "sectionName": None,
            "port": None,
        },
        "hostnames": None,
        "rules": {
            "name": None,
            "matches": {
                "path": {"type": None, "value": None},
                "headers": None,
                "queryParams": None,
                "method": None,
            },
            "filters": None,
            "backendRefs": {
                "group": None,
                "kind": None,
                "name": None,
                "namespace": None,
                "port": None,
                "weight": None,
                "filters": None,
            },
            "timeouts": None,
            "sessionPersistence": None,
        },
    },
}
SCALEDOBJECT_FIELDS = {
    "apiVersion": None,
    "kind": None,
    "metadata": METADATA,
    "spec": {
        "scaleTargetRef": {"apiVersion": None, "kind": None, "name": None, "envSourceContainerName": None},
        "pollingInterval": None,
        "cooldownPeriod": None,
        "initialCooldownPeriod": None,
        "idleReplicaCount": None,
        "minReplicaCount": None,
        "maxReplicaCount": None,
        "advanced": None,
        "fallback": None,
        "triggers": {
            "type": None,
            "name": None,
            "metadata": None,
            "metricType": None,
            "useCachedMetrics": None,
            "authenticationRef": None,
        },
    },
}
KSERVE_COMPONENT_FIELDS = (
    "minReplicas",
    "maxReplicas",
    "scaleTarget",
    "scaleMetric",
    "scaleMetricType",
    "containerConcurrency",
    "timeout",
    "canaryTrafficPercent",
    "logger",
    "batcher",
    "labels",
    "annotations",
    "deploymentStrategy",
    "autoScaling",
)
