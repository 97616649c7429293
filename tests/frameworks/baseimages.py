"""Base images with packages in their system Python, made in the tests from the local base image.

Framework base images (tensorflow/tensorflow, pytorch/pytorch, UAI's) have their packages in
the image's system Python; these are made the same way, with no network in any container:
- Debian packages: apt on the host (Debian bookworm, as the base image) works out what the
  base image lacks from the base image's own dpkg status, downloads exactly those `.deb`
  files into a host cache, and dpkg installs them in the image;
- Python packages: wheels from the host wheelhouse, installed by the base image's own pip
  into its system Python (`--break-system-packages`, as Docker images of Debian do).
Each image is tagged by what went into it and reused when the engine has it, so a CI run
builds each once; a lock file keeps parallel test processes from building it twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from uaipack import engine, wheels

REPOSITORY = "localhost/uaipack-test-base"
_INST = re.compile(r"^Inst (\S+) (?:\[[^]]*\] )?\((\S+) ")


def with_debian_packages(base_image: str, packages: list[str]) -> str:
    """`base_image` plus these Debian packages (and the dependencies it lacks), built once."""
    tag = _tag(base_image, "deb", packages)
    with _built_once(tag) as build:
        if build is not None:
            debs = download_debs(base_image, packages)
            for deb in debs:
                shutil.copyfile(deb, build / deb.name)
            build_image(
                build,
                tag,
                f"FROM {base_image}\nCOPY . /tmp/debs/\nRUN dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs\n",
            )
    return tag


def with_python_packages(base_image: str, requirements: list[str]) -> str:
    """`base_image` with these requirements pip-installed into its system Python, built once."""
    tag = _tag(base_image, "pip", requirements)
    with _built_once(tag) as build:
        if build is not None:
            house = wheels.wheelhouse(requirements, wheels.base_image_target(base_image))
            for wheel in house.glob("*.whl"):
                shutil.copyfile(wheel, build / wheel.name)
            build_image(
                build,
                tag,
                f"FROM {base_image}\nCOPY . /tmp/wheels/\n"
                "RUN python3 -m pip install --no-cache-dir --no-index --break-system-packages"
                " /tmp/wheels/*.whl"
                " && rm -rf /tmp/wheels\n",
            )
    return tag


def download_debs(base_image: str, packages: list[str]) -> list[Path]:
    """The `.deb` files of `packages` and of the dependencies the base image lacks (host cache)."""
    with tempfile.TemporaryDirectory() as work:
        status = Path(work) / "status"
        status.write_bytes(_run_in(base_image, ["cat", "/var/lib/dpkg/status"]))
        plan = subprocess.run(
            [
                "apt-get",
                "-s",
                "-o",
                f"Dir::State::status={status}",
                "--no-install-recommends",
                "install",
                *packages,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    wanted = [f"{match[1]}={match[2]}" for line in plan.splitlines() if (match := _INST.match(line))]
    cache = wheels.cache_dir() / "debs"
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "-q", *wanted], cwd=cache, check=True, capture_output=True)
    found = []
    for item in wanted:
        name, version = item.split("=", 1)
        found += sorted(cache.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"))
    return found


def build_image(context: Path, tag: str, dockerfile: str) -> None:
    """Build `tag` from `dockerfile` with no network; every chunk is checked for an error."""
    (context / "Dockerfile").write_text(dockerfile)
    repository, _, version = tag.rpartition(":")
    for chunk in engine.client().api.build(
        path=str(context), tag=tag, rm=True, forcerm=True, decode=True, network_mode="none", pull=False
    ):
        if "error" in chunk or "errorDetail" in chunk:
            raise RuntimeError(f"building {tag} failed: {chunk}")


def _run_in(image: str, command: list[str]) -> bytes:
    return engine.client().containers.run(image, command, remove=True, network_disabled=True)


def _tag(base_image: str, kind: str, items: list[str]) -> str:
    base_id = engine.client().images.get(base_image).id
    digest = hashlib.sha256("\n".join([base_id, kind, *items]).encode()).hexdigest()[:12]
    return f"{REPOSITORY}:{kind}-{digest}"


@contextlib.contextmanager
def _built_once(tag: str) -> Iterator[Path | None]:
    """Yields a build folder when `tag` must be built, None when the engine has it (under a lock)."""
    locks = wheels.cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{tag.rpartition(':')[2]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if engine.find_image(tag) is not None:
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="uaipack-test-base-") as folder:
            yield Path(folder)
