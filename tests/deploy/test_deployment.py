"""The deployment settings and the Swarm tasks' own arithmetic (no engine: the swarm is faked
where a test needs one; the real one is in test_swarm.py)."""

from __future__ import annotations

import pytest
from uaipack import UserError
from uaipack.deployment import DeploySettings, cpus, default_name, deploy_settings, swarm_memory
from uaipack.settings import Settings
from uaipack.stack import split_tasks
from uaipack.swarm import Observation, require_manager, short_image


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"replicas": 0}, "uai.deploy.replicas = 0 is too small; it must be at least 1."),
        (
            {"endpoint_mode": "mesh"},
            "uai.deploy.endpoint_mode = 'mesh' is not allowed; use one of: vip, dnsrr.",
        ),
        (
            {"memory_limit": "1GB"},
            "uai.deploy.memory_limit '1GB' is not an amount Kubernetes reads; write 512Mi or 1Gi.",
        ),
        ({"name": "My_Service"}, "uai.deploy.name 'My_Service' is not a DNS label;"),
        ({"replicas": 8}, "uai.deploy.max_replicas (6) is below replicas (8); raise it."),
        ({"canary_weight": 120}, "uai.deploy.canary_weight = 120 is over 100 (it is a percentage)."),
        ({"replica": 2}, "invoke.yaml has unknown setting(s) uai.deploy.replica; use one of: name,"),
        ({"replicas": "two"}, "uai.deploy.replicas = 'two' is not int; see invoke.yaml."),
    ],
)
def test_a_bad_deploy_setting_is_one_sentence_naming_it_and_what_is_allowed(given, problem):
    with pytest.raises(UserError) as raised:
        deploy_settings(Settings(deploy=given))
    assert str(raised.value).startswith(problem)
    assert "\n" not in str(raised.value)


def test_settings_from_the_environment_arrive_as_text_and_are_typed():
    chosen = deploy_settings(Settings(deploy={"replicas": "3", "drain_pause_s": "2.5", "name": "shop"}))
    assert (chosen.replicas, chosen.drain_pause_s, chosen.name) == (3, 2.5, "shop")
    assert deploy_settings(Settings()) == DeploySettings()


@pytest.mark.parametrize(
    ("kubernetes", "docker"), [("500m", "0.5"), ("2", "2"), ("1.5", "1.5"), ("1500m", "1.5")]
)
def test_cpu_amounts_read_the_same_for_kubernetes_and_swarm(kubernetes, docker):
    assert cpus(kubernetes) == docker


@pytest.mark.parametrize(("kubernetes", "docker"), [("512Mi", "512M"), ("1Gi", "1G"), ("256Ki", "256k")])
def test_memory_amounts_keep_their_binary_units_for_swarm(kubernetes, docker):
    assert swarm_memory(kubernetes) == docker


@pytest.mark.parametrize(
    ("image_name", "name"),
    [("mnist-inference:test", "mnist-inference"), ("My_Model:v1", "my-model"), ("9lives", "uai-9lives")],
)
def test_the_default_name_is_the_image_name_as_a_dns_label(image_name, name):
    assert default_name(image_name) == name


@pytest.mark.parametrize(
    ("total", "weight", "split"),
    [
        (3, 33, (2, 1)),
        (3, 0, (3, 0)),
        (3, 100, (0, 3)),
        (4, 50, (2, 2)),
        (3, 1, (2, 1)),
        (1, 10, (1, 1)),
        (10, 99, (1, 9)),
    ],
)
def test_a_canary_weight_becomes_whole_tasks_with_at_least_one_on_each_side(total, weight, split):
    assert split_tasks(total, weight) == split


def test_a_canary_weight_outside_0_to_100_is_refused():
    with pytest.raises(UserError, match="not a percentage"):
        split_tasks(3, 150)


def observation(**changes) -> Observation:
    values = dict(
        image="r/ns/name:v1@sha256:" + "b" * 64,
        replicas=3,
        running=3,
        wanted=3,
        update_state="completed",
        update_message="",
        failure="",
    )
    return Observation(**{**values, **changes})


def test_a_service_has_converged_only_when_every_task_runs_its_image_and_no_update_is_under_way():
    assert observation().converged
    assert observation(update_state="rollback_completed").converged
    assert not observation(running=2).converged
    assert not observation(wanted=4).converged  # an old task is still meant to run
    assert not observation(update_state="updating").converged
    assert not observation(update_state="rollback_started").converged


def test_progress_lines_name_the_tasks_serving_and_the_update_state():
    assert observation(running=1).line("s_model") == "s_model: 1/3 tasks serving name:v1@sha256:bbbbbbbbbbbb"
    assert observation(update_state="updating").line("s").endswith("; update updating")
    assert short_image("registry:5000/ns/name:tag") == "name:tag"


class EngineNotInSwarm:
    def info(self):
        return {"Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False}}


def test_the_swarm_tasks_never_put_an_engine_in_swarm_mode_and_say_how_to():
    with pytest.raises(UserError) as raised:
        require_manager(EngineNotInSwarm())
    assert "not a swarm manager (swarm state: inactive)" in str(raised.value)
    assert "`docker swarm init`" in str(raised.value)


def test_a_push_records_its_digest_for_the_manifests(tmp_path, monkeypatch):
    from uaipack import pipeline
    from uaipack.deployment import last_push
    from uaipack.push import Pushed
    from uaipack.settings import Project

    digest = "sha256:" + "c" * 64
    monkeypatch.setattr(pipeline, "login", lambda *args: None)
    monkeypatch.setattr(
        pipeline, "push_image", lambda reference, **_: Pushed(reference, digest, 1, 0, 10, 0.1)
    )
    project = Project.at(tmp_path)
    chosen = Settings(registry="registry.example", namespace="ns", image_name="name:v1")
    pipeline.push_step(chosen, project=project)
    assert last_push(project) == {"reference": "registry.example/ns/name:v1", "digest": digest}


def test_the_smoke_test_waits_as_long_as_the_model_may_take_to_load(monkeypatch, tmp_path):
    from uaipack import pipeline
    from uaipack.settings import Project

    waited = []
    monkeypatch.setattr(pipeline, "smoke_test", lambda reference, samples, timeout: waited.append(timeout))
    chosen = Settings(
        registry="registry.example", namespace="ns", image_name="name:v1", startup_timeout_s=240
    )
    pipeline.smoke_step(chosen, Project.at(tmp_path, samples_dir=None))
    assert waited == [240]
