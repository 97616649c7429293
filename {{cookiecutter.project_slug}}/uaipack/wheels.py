"""Python packages for the image, resolved on the host into a cached wheelhouse.

Containers may have no network, so packages are downloaded here, for the base image's
own Python version and platform tags (asked from the base image itself, once per image
id), and installed offline in the image. A wheelhouse is keyed by the requirements and
the target, so an unchanged set is reused without asking the index again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker

from uaipack import UserError, engine

# Printed by the base image's own python3: its version and the platform tags it accepts.
_TARGET_PROBE = r"""
import json, sys
from pip._vendor.packaging import tags
supported = list(tags.sys_tags())
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "implementation": supported[0].interpreter[:2],
    "abis": sorted({t.abi for t in supported}),
    "platforms": list(dict.fromkeys(t.platform for t in supported if t.platform != "any")),
}))
"""


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


def cache_dir() -> Path:
    """~/.cache/uaipack (or $XDG_CACHE_HOME/uaipack)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "uaipack"


def base_image_target(base_image: str) -> Target:
    """Ask the base image (run with no network) which Python and platforms it has; cached per image id."""
    client = engine.client()
    image = client.images.get(base_image)
    cached = cache_dir() / "targets" / f"{image.id.replace(':', '-')}.json"
    if cached.is_file():
        return Target(
            **{
                key: tuple(value) if isinstance(value, list) else value
                for key, value in json.loads(cached.read_text()).items()
            }
        )
    try:
        output = client.containers.run(
            image.id, ["python3", "-c", _TARGET_PROBE], network_disabled=True, remove=True, stderr=True
        )
        answer = json.loads(output.decode().strip().splitlines()[-1])
    except (docker.errors.ContainerError, ValueError, IndexError) as exc:
        raise UserError(
            f"the base image {base_image} has no working python3 with pip ({exc.__class__.__name__}); "
            "use a Python base image, e.g. the local one from `invoke base-image`."
        ) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(answer))
    return Target(
        answer["python"], answer["implementation"], tuple(answer["abis"]), tuple(answer["platforms"])
    )


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
    """A folder holding wheels for every requirement (and dependency) for the target; cached."""
    key = hashlib.sha256(json.dumps([requirements, dataclasses.asdict(target)]).encode()).hexdigest()[:16]
    folder = cache_dir() / "wheels" / key
    complete = folder / ".complete"
    if complete.is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if requirements:
        requirements_file = folder / "requirements.in"
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
            str(folder),
            *target.pip_arguments(),
            "-r",
            str(requirements_file),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            reason = (result.stderr.strip().splitlines() or ["pip download failed"])[-1]
            raise UserError(
                f"could not get wheels for Python {target.python} ({reason}); fix requirements.txt, "
                "or use `invoke build --network` for packages that publish no wheel."
            )
        requirements_file.unlink()
    complete.touch()
    return folder
