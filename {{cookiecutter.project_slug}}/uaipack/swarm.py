"""Docker Swarm: deploy the stack of deploy/swarm/stack.yml, update its image, scale it, run a
canary beside it, and wait each time until Swarm has converged, showing progress.

Changes go through the `docker` command line, as a user would type them (`docker stack
deploy --with-registry-auth`, `docker service update`): the stack file is a Compose file,
which only the CLI reads, and `--with-registry-auth` hands the CLI's registry credentials
to the swarm's nodes. Waiting and reporting use the engine's API. A password given to a
task (UHUB_PASSWORD, --password-stdin) goes through `docker login --password-stdin` into
a throwaway Docker config, removed when the task ends; without one, Docker's own stored
credentials are used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker

from uaipack import UserError, engine, push
from uaipack.progress import console, say, show_table

SERVICES = ("model", "canary")  # the services of stack.yml: `<stack>_model`, `<stack>_canary`
FINISHED = {"completed", "rollback_completed"}
STUCK = {"paused", "rollback_paused"}
POLL_S = 0.5


@dataclasses.dataclass(frozen=True)
class Convergence:
    """Where a service ended: its image, tasks serving it, and whether Swarm rolled it back."""

    service: str
    image: str
    replicas: int
    running: int
    seconds: float
    rolled_back: bool = False
    message: str = ""


def service_name(stack: str, service: str = "model") -> str:
    return f"{stack}_{service}"


def require_manager(client: docker.DockerClient) -> None:
    """This engine must manage a swarm; it is never put in swarm mode behind the user's back."""
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        state = swarm.get("LocalNodeState", "unknown")
        raise UserError(
            f"this Docker engine is not a swarm manager (swarm state: {state}); make it a one-node "
            "swarm with `docker swarm init`, or point DOCKER_HOST at a manager of your swarm."
        )


def docker_cli(*arguments: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run `docker <arguments>`; a failure is one line with the CLI's own last words."""
    if shutil.which("docker") is None:
        raise UserError("the docker command is not installed; install Docker's CLI (Debian: docker.io).")
    result = subprocess.run(
        ["docker", *arguments], input=stdin, capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        reason = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise UserError(f"`docker {' '.join(arguments[:3])} ...` failed: {reason}")
    return result.stdout


@contextlib.contextmanager
def registry_login(registry: str, username: str | None, password: str | None) -> Iterator[dict[str, str]]:
    """The environment for the CLI: with a password, a throwaway Docker config logged in to
    `registry` (the password goes through stdin); without one, the user's own config."""
    if push.uses_stored_credentials(registry, username, password):
        yield dict(os.environ)
        return
    with tempfile.TemporaryDirectory(prefix="uaipack-docker-config-") as config:
        env = {**os.environ, "DOCKER_CONFIG": config}
        docker_cli("login", "--username", username, "--password-stdin", registry, env=env, stdin=password)
        yield env


def deploy_stack(stack: str, stack_file: Path, env: dict[str, str]) -> None:
    if not stack_file.is_file():
        raise UserError(f"{stack_file} is missing; write it with `invoke manifests`.")
    say(f"docker stack deploy --with-registry-auth -c {stack_file} {stack}")
    docker_cli(
        "stack", "deploy", "--with-registry-auth", "--detach=true", "-c", str(stack_file), stack, env=env
    )


def update_image(service: str, image: str, env: dict[str, str], replicas: int | None = None) -> None:
    extra = ["--replicas", str(replicas)] if replicas is not None else []
    say(" ".join(["docker service update --image", image, *extra, service]))
    docker_cli(
        "service", "update", "--with-registry-auth", "--detach", "--image", image, *extra, service, env=env
    )


def scale(service: str, replicas: int) -> None:
    say(f"docker service scale {service}={replicas}")
    docker_cli("service", "scale", "--detach", f"{service}={replicas}")


def remove_stack(stack: str) -> None:
    say(f"docker stack rm {stack}")
    docker_cli("stack", "rm", stack)


def find_service(client: docker.DockerClient, name: str):
    try:
        return client.services.get(name)
    except docker.errors.NotFound:
        raise UserError(
            f"there is no service {name} on this swarm; deploy it first with `invoke deploy`."
        ) from None


def desired_replicas(service) -> int:
    return int(service.attrs["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas", 0))


def spec_image(service) -> str:
    return service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def task_counts(service) -> tuple[int, int, list[dict]]:
    """(tasks running the service's current image, tasks meant to run, the failed tasks' records)."""
    tasks = service.tasks()
    image = spec_image(service)
    wanted = [task for task in tasks if task["DesiredState"] == "running"]
    current = [
        task
        for task in wanted
        if task["Status"]["State"] == "running" and task["Spec"]["ContainerSpec"]["Image"] == image
    ]
    failed = [task for task in tasks if task["Status"]["State"] in {"failed", "rejected"}]
    return len(current), len(wanted), failed


@dataclasses.dataclass(frozen=True)
class Observation:
    """One look at a service: what it is meant to run and what runs."""

    image: str
    replicas: int
    running: int  # tasks running the service's image (healthy: Swarm says running only then)
    wanted: int  # tasks meant to run, of any image
    update_state: str  # "completed" when no update ever ran
    update_message: str
    failure: str  # the newest failed task's error

    @property
    def converged(self) -> bool:
        return self.update_state in FINISHED and self.running == self.replicas == self.wanted

    def line(self, name: str) -> str:
        text = f"{name}: {self.running}/{self.replicas} tasks serving {short_image(self.image)}"
        return text + (
            f"; update {self.update_state}" if self.update_message or self.update_state != "completed" else ""
        )


def observe(client: docker.DockerClient, name: str) -> Observation:
    service = find_service(client, name)
    update = service.attrs.get("UpdateStatus") or {}
    running, wanted, failed = task_counts(service)
    return Observation(
        spec_image(service),
        desired_replicas(service),
        running,
        wanted,
        update.get("State", "completed"),
        update.get("Message", ""),
        last_failure(failed),
    )


def wait_converged(client: docker.DockerClient, name: str, timeout_s: float) -> Convergence:
    """Poll until every task runs the service's image and no update is under way; print a line at
    each change of state. An update Swarm paused is a UserError; one it rolled back is reported."""
    started = time.monotonic()
    last, failure = None, ""
    with console.status(f"waiting for {name} to converge") as status:
        while time.monotonic() < started + timeout_s:
            seen = observe(client, name)
            line, failure = seen.line(name), seen.failure
            if line != last:
                say(f"  {line}" + (f" (after {time.monotonic() - started:.0f} s)" if last else ""))
                last = line
            status.update(line)
            if seen.update_state in STUCK:
                raise UserError(f"the update of {name} stopped ({seen.update_state}): {seen.update_message}")
            if seen.converged:
                rolled_back = seen.update_state == "rollback_completed"
                return Convergence(
                    name,
                    seen.image,
                    seen.replicas,
                    seen.running,
                    time.monotonic() - started,
                    rolled_back=rolled_back,
                    message=seen.failure or seen.update_message,
                )
            time.sleep(POLL_S)
    raise UserError(
        f"{name} did not converge within {timeout_s:.0f} s ({last}; {failure or 'no task failed'}); "
        f"see `docker service ps --no-trunc {name}` and `docker service logs {name}`."
    )


def last_failure(failed: list[dict]) -> str:
    """The newest failed task's error, e.g. `task: non-zero exit (4)`."""
    if not failed:
        return ""
    newest = max(failed, key=lambda task: task["Status"].get("Timestamp", ""))
    return newest["Status"].get("Err") or newest["Status"].get("Message", "")


def show_tasks(client: docker.DockerClient, names: list[str]) -> None:
    """A table of the tasks serving now: service, slot, image, state, since when."""
    rows = []
    for name in names:
        service = find_service(client, name)
        for task in sorted(service.tasks({"desired-state": "running"}), key=lambda task: task.get("Slot", 0)):
            rows.append(
                (
                    name,
                    task.get("Slot", "-"),
                    short_image(task["Spec"]["ContainerSpec"]["Image"]),
                    task["Status"]["State"],
                    task["Status"].get("Timestamp", "")[:19].replace("T", " "),
                )
            )
    show_table("tasks serving", ["service", "slot", "image", "state", "since (UTC)"], rows)


def short_image(image: str) -> str:
    """`registry/namespace/name:tag@sha256:abcdef...` as `name:tag@sha256:abcdef123456`."""
    name, _, digest = image.rpartition("/")[2].partition("@")
    return f"{name}@{digest[:19]}" if digest else name


def client() -> docker.DockerClient:
    found = engine.client()
    require_manager(found)
    return found
