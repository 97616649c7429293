"""The Swarm lab: a real one-node swarm serving a baked project under continuous load, and the
scenarios of issue #10 run against it (rolling update, scale 3 -> 1 -> 3, a failed update
that rolls back, a canary), each counting requests and failures.

`python -m bench.swarm` prints the figures (`--write` puts them into DEPLOY.md);
tests/deploy/test_swarm.py runs the same scenarios and asserts on them.

Everything is real and stays on 127.0.0.1: the engine is put in swarm mode with
`--advertise-addr 127.0.0.1` (only if it was in no swarm, and it leaves the swarm at the
end); the images are pushed to an authenticated local registry and deployed with the
project's own tasks (`invoke manifests`, `deploy`, `update`, `scale`, `canary`); the load
goes through HAProxy in a container on the stack's overlay network, which resolves
`tasks.<stack>_model` through Docker's DNS (the kernel here has no IPVS, so the stack uses
`endpoint_mode: dnsrr`) and publishes on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "{{cookiecutter.project_slug}}"))

from uaipack import UserError, engine  # noqa: E402
from uaipack.baseimage import ensure_base_image  # noqa: E402
from uaipack.registry import LocalRegistry, free_port  # noqa: E402

from bench import haproxy  # noqa: E402
from bench.markers import write_between  # noqa: E402

DEPLOY_MD = ROOT / "DEPLOY.md"
MARKERS = ("<!-- swarm-figures:start -->", "<!-- swarm-figures:end -->")
INVOKE = Path(sys.executable).with_name("invoke")
USERNAME = "lab"
REPLICAS = 3
SLOW_LOAD_S = 4
LOAD_THREADS = 3
BODY = b"[0.1, 0.9]"
VARIANTS = {  # image tag suffix -> the body of load_model in that image
    "v1": None,
    "slow": f"        import time\n\n        time.sleep({SLOW_LOAD_S})  # a model that loads for seconds\n",
    "broken": "        raise RuntimeError('the model file is corrupt')\n",
}


class SwarmTaken(Exception):
    """The engine is already in a swarm: the lab never touches a swarm it did not make."""


@contextlib.contextmanager
def own_swarm(client) -> Iterator[None]:
    """Put the engine in swarm mode on 127.0.0.1 and always leave it again."""
    state = (client.info().get("Swarm") or {}).get("LocalNodeState", "inactive")
    if state != "inactive":
        raise SwarmTaken(
            f"this Docker engine is already in swarm mode ({state}); the Swarm lab only uses a swarm it "
            "makes itself, so it leaves this one alone (`docker swarm leave --force` if it is yours)"
        )
    networks = {network.name for network in client.networks.list()}
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{free_port()}")
    try:
        yield
    finally:
        client.swarm.leave(force=True)
        if "docker_gwbridge" not in networks:  # made by the swarm for its containers
            with contextlib.suppress(Exception):
                client.networks.get("docker_gwbridge").remove()


@dataclasses.dataclass(eq=False)  # windows are told apart by identity, whatever they counted
class Window:
    """Requests answered while a scenario ran, by status (or error) and by the task that answered."""

    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    served_by: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failures: list[str] = dataclasses.field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return self.requests - self.statuses[200]

    def share(self, prefix: str) -> float:
        total = sum(self.served_by.values())
        return sum(n for server, n in self.served_by.items() if server.startswith(prefix)) / max(total, 1)


class Load:
    """Continuous POSTs through the load balancer from a few keep-alive clients, counted per window."""

    def __init__(self, port: int, threads: int = LOAD_THREADS):
        self.port = port
        self._windows: list[Window] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(threads)]
        self.total = Window()

    def __enter__(self) -> Load:
        self._windows.append(self.total)
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    @contextlib.contextmanager
    def window(self) -> Iterator[Window]:
        window = Window()
        with self._lock:
            self._windows.append(window)
        try:
            yield window
        finally:
            with self._lock:
                self._windows.remove(window)

    def _client(self) -> None:
        connection = None
        while not self._stop.is_set():
            try:
                connection = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connection.request("POST", "/service", body=BODY)
                response = connection.getresponse()
                body = response.read()
                self._count(str(response.status), response.getheader("X-Served-By", "?"), body)
                if response.will_close:
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                self._count(type(error).__name__, "-", repr(error).encode())
                connection = None
            time.sleep(0.005)

    def _count(self, status: str, server: str, body: bytes) -> None:
        key = int(status) if status.isdigit() else status
        with self._lock:
            for window in self._windows:
                window.statuses[key] += 1
                window.served_by[server] += 1
                if key != 200 and len(window.failures) < 20:
                    window.failures.append(f"{status} from {server}: {body[:120]!r}")


@dataclasses.dataclass(frozen=True)
class Figures:
    """One scenario's result, as DEPLOY.md shows it."""

    scenario: str
    requests: int
    failed: int
    seconds: float
    outcome: str
    window: Window = dataclasses.field(compare=False, repr=False)


class Lab:
    """The swarm, registry, images, stack and load balancer; `with Lab() as lab:` removes them all."""

    def __init__(self, say=print):
        self.say = say
        self.stack = f"uailab-{secrets.token_hex(3)}"
        self.password = secrets.token_urlsafe(18)
        self.images: dict[str, str] = {}  # variant -> repository@digest
        self._exit = contextlib.ExitStack()
        self.client = engine.client()

    def __enter__(self) -> Lab:
        try:
            self._exit.enter_context(own_swarm(self.client))
            self.registry = self._exit.enter_context(LocalRegistry(USERNAME, self.password))
            self.workdir = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="uailab-")))
            self._exit.callback(self._remove_leftovers)
            self.base_image = ensure_base_image(say=self.say)
            self.project = self._bake()
            self._push_variants()
            self.invoke("manifests")
            self.invoke("deploy")
            self.port = self._start_load_balancer()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    def environment(self, variant: str = "v1") -> dict[str, str]:
        """What a user of this project would set: the registry, its login, the stack's shape."""
        keep = {key: value for key, value in os.environ.items() if not key.startswith(("UHUB_", "INVOKE_"))}
        return {
            **keep,
            "COLUMNS": "160",
            "INVOKE_UAI_BASE_IMAGE": self.base_image,
            "INVOKE_UAI_REGISTRY": self.registry.address,
            "INVOKE_UAI_IMAGE_NAME": f"mnist-inference:{self.stack}-{variant}",
            "INVOKE_UAI_DEPLOY_NAME": self.stack,
            "INVOKE_UAI_DEPLOY_REPLICAS": str(REPLICAS),
            "INVOKE_UAI_DEPLOY_ENDPOINT_MODE": "dnsrr",  # no IPVS here: no routing mesh
            "UHUB_USERNAME": USERNAME,
            "UHUB_PASSWORD": self.password,
        }

    def invoke(self, *arguments: str, variant: str = "v1", check: bool = True) -> subprocess.CompletedProcess:
        """Run one of the project's tasks as a user would; with `check`, a failure raises with its output."""
        folder = self.project if variant == "v1" else self.project.with_name(variant)
        result = subprocess.run(
            [str(INVOKE), *arguments],
            cwd=folder,
            env=self.environment(variant),
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            raise UserError(
                f"`invoke {' '.join(arguments)}` failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result

    def timed(self, *arguments: str) -> tuple[float, subprocess.CompletedProcess]:
        started = time.monotonic()
        result = self.invoke(*arguments, check=False)
        return time.monotonic() - started, result

    def model_image(self) -> str:
        return self.client.services.get(f"{self.stack}_model").attrs["Spec"]["TaskTemplate"]["ContainerSpec"][
            "Image"
        ]

    def ensure_model_image(self, variant: str) -> None:
        if not self.model_image().endswith(self.images[variant].rpartition("@")[2]):
            self.invoke("update", "--image", self.images[variant])

    def _bake(self) -> Path:
        from cookiecutter.main import cookiecutter

        project = Path(
            cookiecutter(
                str(ROOT), no_input=True, output_dir=str(self.workdir), extra_context={"namespace": "lab"}
            )
        )
        for variant, load_model in VARIANTS.items():
            if load_model is not None:
                copy = project.with_name(variant)
                shutil.copytree(project, copy)
                replace_load_model(copy / "code" / "mnist_inference.py", load_model)
        return project

    def _push_variants(self) -> None:
        """v1 through the whole journey (`invoke push`: build, smoke-test, push); the others as
        `build` then `push --skip-checks` (the broken one cannot pass a smoke test)."""
        for variant in VARIANTS:
            self.say(f"building and pushing the {variant} image")
            if variant == "v1":
                self.invoke("push")
            else:
                self.invoke("build", variant=variant)
                self.invoke("push", "--skip-checks", variant=variant)
            folder = self.project if variant == "v1" else self.project.with_name(variant)
            pushed = json.loads((folder / ".uaipack" / "last-push.json").read_text())
            self.images[variant] = f"{pushed['reference'].rsplit(':', 1)[0]}@{pushed['digest']}"

    def _start_load_balancer(self) -> int:
        image = haproxy.haproxy_image(self.base_image, say=self.say)
        config = self.project / "deploy" / "swarm" / "haproxy.cfg"
        container = self.client.containers.run(
            image,
            name=f"{self.stack}-lb",
            detach=True,
            network=f"{self.stack}_service",
            ports={"8080/tcp": ("127.0.0.1", None)},
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            volumes={str(config): {"bind": haproxy.CONFIG_PATH, "mode": "ro"}},
            labels={"com.docker.stack.namespace": self.stack},
        )
        container.reload()
        port = int(container.ports["8080/tcp"][0]["HostPort"])
        wait_serving(port, container)
        return port

    def _remove_leftovers(self) -> None:
        """The stack, the load balancer, every container and image this lab made (by its names)."""
        with contextlib.suppress(Exception):
            self.invoke("undeploy", check=False)
        containers = self.client.containers.list(
            all=True, filters={"label": f"com.docker.stack.namespace={self.stack}"}
        )
        for container in containers:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        prefix = f"{self.registry.address}/"
        for image in self.client.images.list():
            names = image.tags + image.attrs.get("RepoDigests", [])
            if any(name.startswith(prefix) for name in names):
                with contextlib.suppress(Exception):
                    self.client.images.remove(image.id, force=True)


def replace_load_model(module: Path, body: str) -> None:
    text = module.read_text()
    start = text.index("    def load_model(self):\n") + len("    def load_model(self):\n")
    end = text.index("    def execute(")
    module.write_text(text[:start] + body + "\n" + text[end:])


def wait_serving(port: int, container, timeout_s: float = 60) -> None:
    """Until the load balancer answers /readyz with 200 (it has found a healthy task)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise UserError(
        f"the load balancer answered no 200 within {timeout_s:.0f} s: {container.logs(tail=20).decode()}"
    )


def settle(load: Load, seconds: float = 2.0) -> None:
    """Keep the load on a little after a change: tasks still stopping must not fail anyone."""
    time.sleep(seconds)


def rolling_update(lab: Lab, load: Load) -> Figures:
    lab.ensure_model_image("v1")
    with load.window() as window:
        seconds, result = lab.timed("update", "--image", lab.images["slow"])
        settle(load)
    outcome = "updated" if result.returncode == 0 else f"FAILED: {last_line(result)}"
    return Figures(
        f"rolling update to an image whose model loads in {SLOW_LOAD_S} s",
        window.requests,
        window.failed,
        seconds,
        outcome,
        window,
    )


def scale_down_and_up(lab: Lab, load: Load) -> Figures:
    with load.window() as window:
        down, first = lab.timed("scale", "1")
        settle(load)
        up, second = lab.timed("scale", str(REPLICAS))
        settle(load)
    ok = first.returncode == second.returncode == 0
    outcome = f"{down:.0f} s down, {up:.0f} s up" if ok else f"FAILED: {last_line(first)} {last_line(second)}"
    return Figures(
        f"scale {REPLICAS} -> 1 -> {REPLICAS}", window.requests, window.failed, down + up, outcome, window
    )


def failed_update(lab: Lab, load: Load) -> Figures:
    before = lab.model_image()
    with load.window() as window:
        seconds, result = lab.timed("update", "--image", lab.images["broken"])
        settle(load)
    rolled_back = result.returncode != 0 and "rolled it back" in result.stderr + result.stdout
    outcome = (
        "rolled back by itself"
        if rolled_back and lab.model_image() == before
        else f"NOT rolled back: {last_line(result)}"
    )
    return Figures(
        "update to an image whose model fails to load",
        window.requests,
        window.failed,
        seconds,
        outcome,
        window,
    )


def canary(lab: Lab, load: Load, requests: int = 1500) -> Figures:
    with load.window() as window:
        seconds, result = lab.timed("canary", "--weight", "33", "--image", lab.images["v1"])
        settle(load, 3)  # the task the stable service gave up leaves the balancer's DNS and checks
        with load.window() as measured:
            deadline = time.monotonic() + 120
            while measured.requests < requests and time.monotonic() < deadline:
                time.sleep(0.2)
        ended, end = lab.timed("canary", "--weight", "0")
        settle(load)
    share = measured.share("canary")
    ok = result.returncode == end.returncode == 0
    outcome = (
        f"1 task of {REPLICAS}: {share:.0%} of {measured.requests} requests"
        if ok
        else f"FAILED: {last_line(result)}"
    )
    return Figures(
        "canary of 1 task in 3", window.requests, window.failed, seconds + ended, outcome, measured
    )


SCENARIOS = (rolling_update, scale_down_and_up, failed_update, canary)


def last_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()
    return lines[-1]


def table(figures: list[Figures], total: Window) -> str:
    rows = ["| scenario | requests | failed | seconds | outcome |", "|---|---|---|---|---|"]
    for row in figures:
        rows.append(
            f"| {row.scenario} | {row.requests:,} | {row.failed} | {row.seconds:.0f} | {row.outcome} |"
        )
    rows.append(f"| all of the above, with the set-up between | {total.requests:,} | {total.failed} | | |")
    return "\n".join(rows) + "\n"


def write(text: str) -> None:
    """Replace the figures between DEPLOY.md's markers, nothing else."""
    write_between(DEPLOY_MD, *MARKERS, text.rstrip("\n"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write the figures into {DEPLOY_MD.name}")
    arguments = parser.parse_args(argv)
    try:
        with Lab() as lab, Load(lab.port) as load:
            figures = [scenario(lab, load) for scenario in SCENARIOS]
            text = table(figures, load.total)
    except (UserError, SwarmTaken) as error:
        print(f"bench.swarm: {error}", file=sys.stderr)
        return 1
    print(text)
    if arguments.write:
        write(text)
        print(f"wrote the figures into {DEPLOY_MD.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
