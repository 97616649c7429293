"""The project's Swarm stack, as the tasks `deploy`, `update`, `scale`, `canary` and `undeploy`
drive it: each makes one change through the docker CLI, waits until Swarm has converged
(a line per change of state), and ends with the tasks serving.

The stack is named after the deployment (`uai.deploy.name`); its services are
`<stack>_model` and `<stack>_canary` (deploy/swarm/stack.yml).
"""

from __future__ import annotations

import sys
from typing import IO

from uaipack import UserError, swarm
from uaipack.deployment import Deployment, deployment, swarm_monitor_s
from uaipack.progress import say
from uaipack.push import read_password, user_name
from uaipack.settings import Project, Settings

SLACK_S = 60  # pulling the image and starting the container, on top of the model's startup


class Stack:
    """This project's stack on the swarm of the current Docker engine."""

    def __init__(self, settings: Settings, project: Project):
        self.settings = settings
        self.project = project
        self.deployment: Deployment = deployment(settings, project)
        self.name = self.deployment.name
        self.model = swarm.service_name(self.name, "model")
        self.canary_service = swarm.service_name(self.name, "canary")
        self.client = swarm.client()

    def login(self, stdin: IO[str] = sys.stdin):
        """The CLI's environment, logged in to the image's registry when a password was given
        (--password-stdin, else UHUB_PASSWORD); else the credentials Docker stores."""
        password = read_password(self.settings.password_stdin, stdin)
        registry = self.deployment.image.split("/", 1)[0]
        return swarm.registry_login(registry, user_name(self.settings), password)

    def timeout_s(self, tasks_one_by_one: int = 1) -> float:
        """How long a change may take: the model's startup and the monitor window, per task in turn."""
        per_task = self.deployment.startup_timeout_s + swarm_monitor_s()
        return tasks_one_by_one * per_task + SLACK_S

    def deploy(self, env: dict[str, str], timeout_s: float | None = None) -> None:
        swarm.deploy_stack(self.name, self.project.root / "deploy" / "swarm" / "stack.yml", env)
        done = swarm.wait_converged(self.client, self.model, timeout_s or self.timeout_s())
        say(f"deployed stack {self.name}: {done.running}/{done.replicas} tasks serving, {done.seconds:.0f} s")
        self.show()

    def update(
        self, image: str | None, env: dict[str, str], timeout_s: float | None = None
    ) -> swarm.Convergence:
        """Roll the model service to `image` (default: the deployment's image, the last push)."""
        image = image or self.deployment.image
        service = swarm.find_service(self.client, self.model)
        before = swarm.spec_image(service)
        swarm.update_image(self.model, image, env)
        replicas = swarm.desired_replicas(service)
        done = swarm.wait_converged(self.client, self.model, timeout_s or self.timeout_s(replicas))
        self.show()
        if done.rolled_back:
            raise UserError(
                f"the update of {self.model} to {swarm.short_image(image)} FAILED "
                f"({done.message or 'a task failed'}); "
                f"Swarm rolled it back: {done.running}/{done.replicas} tasks serve "
                f"{swarm.short_image(before)} again ({done.seconds:.0f} s)"
            )
        say(
            f"updated {self.model} to {swarm.short_image(done.image)}: {done.running}/{done.replicas} "
            f"tasks serving, {done.seconds:.0f} s",
            style="green",
        )
        return done

    def scale(self, replicas: int, timeout_s: float | None = None) -> swarm.Convergence:
        if replicas < 0:
            raise UserError(f"cannot scale to {replicas} replicas; give 0 or more.")
        swarm.scale(self.model, replicas)
        done = swarm.wait_converged(self.client, self.model, timeout_s or self.timeout_s())
        say(f"scaled {self.model}: {done.running}/{done.replicas} tasks serving, {done.seconds:.0f} s")
        self.show()
        return done

    def canary(self, weight: int, image: str | None, env: dict[str, str]) -> tuple[int, int]:
        """Give the canary `weight` percent of the tasks (so of the requests, through a balancer that
        balances by task); the canary comes up before the stable service gives tasks away."""
        stable_now = swarm.desired_replicas(swarm.find_service(self.client, self.model))
        canary_now = swarm.desired_replicas(swarm.find_service(self.client, self.canary_service))
        stable, canary = split_tasks(stable_now + canary_now, weight)
        if canary >= canary_now:
            self._set_canary(canary, image, env)
            self._set_stable(stable)
        else:
            self._set_stable(stable)
            self._set_canary(canary, image, env)
        say(
            f"canary: {canary} of {stable + canary} tasks, so {100 * canary / (stable + canary):.0f}% of the "
            "requests through a load balancer that balances by task",
            style="green",
        )
        self.show()
        return stable, canary

    def _set_canary(self, replicas: int, image: str | None, env: dict[str, str]) -> None:
        if replicas == 0:  # ending the canary: its image does not matter
            swarm.scale(self.canary_service, 0)
        else:
            swarm.update_image(
                self.canary_service, image or self.deployment.canary_image, env, replicas=replicas
            )
        swarm.wait_converged(self.client, self.canary_service, self.timeout_s())

    def _set_stable(self, replicas: int) -> None:
        swarm.scale(self.model, replicas)
        swarm.wait_converged(self.client, self.model, self.timeout_s())

    def show(self) -> None:
        swarm.show_tasks(self.client, [self.model, self.canary_service])

    def remove(self) -> None:
        swarm.remove_stack(self.name)


def split_tasks(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) tasks for a canary share of `weight` percent of `total` tasks."""
    if not 0 <= weight <= 100:
        raise UserError(f"the canary weight {weight} is not a percentage; give 0 to 100.")
    if total < 1:
        raise UserError("the stack runs no task; scale it up first (`invoke scale 3`).")
    canary = round(total * weight / 100)
    if 0 < weight < 100:  # a share asked for gets at least one task, and leaves one stable
        total = max(total, 2)
        canary = min(max(canary, 1), total - 1)
    return total - canary, canary
