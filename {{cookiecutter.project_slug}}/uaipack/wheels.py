"""Python packages for the image, resolved on the host into a cached wheelhouse.

Containers may have no network, so packages are downloaded here, for the base image's
own Python version and platform tags, and installed offline in the image. The base image
itself is asked (once per image id) what its python3 is and which distributions it can
import, so that requirements it already satisfies are left out (`uaipack.packages`). A
wheelhouse is keyed by the requirements and the target, so an unchanged set is reused
without asking the index again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
from packaging.utils import canonicalize_name

from uaipack import UserError, engine

# Printed by the base image's own python3: its version, the platform tags it accepts, and every
# distribution it can import (the first on sys.path wins, as for imports), with its size.
_PROBE = r"""
import json, os, sys
from importlib import metadata
from pip._vendor.packaging import tags
supported = list(tags.sys_tags())
modules = {}
if hasattr(metadata, "packages_distributions"):
    for module, names in metadata.packages_distributions().items():
        for name in names:
            modules.setdefault(name.lower(), []).append(module)
found = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name or name.lower() in found:
        continue
    size = 0
    for file in dist.files or ():
        try:
            size += os.path.getsize(file.locate())
        except OSError:
            pass
    found[name.lower()] = [name, dist.version, size, sorted(set(modules.get(name.lower(), ())))]
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "implementation": supported[0].interpreter[:2],
    "abis": sorted({t.abi for t in supported}),
    "platforms": list(dict.fromkeys(t.platform for t in supported if t.platform != "any")),
    "distributions": list(found.values()),
}))
"""
PROBE_VERSION = 2  # part of the cache file name: a new probe asks every image again


@dataclasses.dataclass(frozen=True)
class Target:
    """The Python an image runs: version, implementation, ABIs and platform tags."""

    python: str
    implementation: str
    abis: tuple[str, ...]
    platforms: tuple[str, ...]

    def pip_arguments(self) -> list[str]:
        arguments = ["--python-version", self.python, "--implementation", self.implementation]
        for abi in self.abis:
            arguments += ["--abi", abi]
        for platform in self.platforms:
            arguments += ["--platform", platform]
        return arguments


@dataclasses.dataclass(frozen=True)
class Distribution:
    """A distribution the base image's python3 can import: its name, version, installed size
    and top-level modules."""

    name: str
    version: str
    size: int
    modules: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class BasePython:
    """What the base image's own python3 is and has (asked once per image id)."""

    target: Target
    distributions: tuple[Distribution, ...] = ()

    def get(self, name: str) -> Distribution | None:
        """The distribution of that (any-case, -_. insensitive) name, or None."""
        wanted = canonicalize_name(name)
        return next((dist for dist in self.distributions if canonicalize_name(dist.name) == wanted), None)


def cache_dir() -> Path:
    """~/.cache/uaipack (or $XDG_CACHE_HOME/uaipack)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "uaipack"


def base_python(base_image: str) -> BasePython:
    """Ask the base image (run with no network) which Python, platforms and distributions it has;
    cached per image id."""
    client = engine.client()
    image = client.images.get(base_image)
    cached = cache_dir() / "targets" / f"{image.id.replace(':', '-')}.v{PROBE_VERSION}.json"
    if cached.is_file():
        return _base_python(json.loads(cached.read_text()))
    try:
        output = client.containers.run(
            image.id, ["python3", "-c", _PROBE], network_disabled=True, remove=True, stderr=True
        )
        answer = json.loads(output.decode().strip().splitlines()[-1])
    except (docker.errors.ContainerError, ValueError, IndexError) as exc:
        raise UserError(
            f"the base image {base_image} has no working python3 with pip ({exc.__class__.__name__}); "
            "use a Python base image, e.g. the local one from `invoke base-image`."
        ) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(cached, json.dumps(answer))
    return _base_python(answer)


def base_image_target(base_image: str) -> Target:
    """The base image's Python and platform tags (see `base_python`)."""
    return base_python(base_image).target


def _base_python(answer: dict) -> BasePython:
    target = Target(
        answer["python"], answer["implementation"], tuple(answer["abis"]), tuple(answer["platforms"])
    )
    distributions = tuple(
        Distribution(name, version, size, tuple(modules))
        for name, version, size, modules in answer["distributions"]
    )
    return BasePython(target, distributions)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def requirement_lines(*files: Path) -> list[str]:
    """The requirement lines of these files, without comments and blank lines."""
    lines: list[str] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def wheelhouse(requirements: list[str], target: Target) -> Path:
    """A folder holding wheels for every requirement (and dependency) for the target; cached.

    Safe for builds running at once: pip downloads into a temporary folder that is renamed into
    place when complete; a build that loses the race uses the winner's folder.
    """
    key = hashlib.sha256(json.dumps([requirements, dataclasses.asdict(target)]).encode()).hexdigest()[:16]
    folder = cache_dir() / "wheels" / key
    if (folder / ".complete").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    try:
        if requirements:
            _download(requirements, target, staging)
        (staging / ".complete").touch()
        if folder.exists() and not (folder / ".complete").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # left half-made by an older uaipack
        try:
            staging.rename(folder)
        except OSError:  # another build put a complete one there first
            if not (folder / ".complete").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _download(requirements: list[str], target: Target, destination: Path) -> None:
    requirements_file = destination / "requirements.in"
    requirements_file.write_text("\n".join(requirements) + "\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--dest",
        str(destination),
        *target.pip_arguments(),
        "-r",
        str(requirements_file),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    requirements_file.unlink()
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["pip download failed"])[-1]
        raise UserError(
            f"could not get wheels for Python {target.python} ({reason}); fix requirements.txt, "
            "or use `invoke build --network` for packages that publish no wheel."
        )
