"""Which Python packages the image gets from where: the base image, the project, the server.

The image runs the base image's own python3, so everything it can import stays importable
(UAI's framework images: TensorFlow, PyTorch, Pillow, OpenCV in the system Python). On top:
- the project's requirements the base image lacks (or has at a version the pin refuses) go
  to `/opt/uai/packages`, first on `PYTHONPATH`: they win over the base image's;
- a requirement the base image satisfies (same name, a version the pin accepts) is neither
  downloaded nor installed; nor is a dependency it has at the very version resolved;
- the server's own packages go to `/opt/uai/server`, first on `sys.path` in the server
  process only (its launcher, `bin/gunicorn`), so the base image's python3 outside the server
  still sees its own versions, and the server never runs on the base image's (e.g. an older
  Django). Inside the server process the server's versions are the ones imported: the plan
  says which of the base image's distributions they hide.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import shutil
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import parse_wheel_filename

from uaipack import UserError, wheels
from uaipack.progress import human_bytes, say
from uaipack.settings import Project, Settings
from uaipack.wheels import BasePython, Distribution

#: Modules the image itself provides to user code: the server's UAI package and the server.
SERVER_MODULES = frozenset({"uai", "httpserver"})
#: The start command (`gunicorn` on PATH): gunicorn with the server's own packages first.
LAUNCHER = """#!/usr/bin/env python3
\"\"\"uaipack's start command: gunicorn on the base image's python3, the server's packages first.\"\"\"
import sys

sys.path[0] = "/opt/uai/server"  # instead of this script's folder; /opt/uai/packages comes next
from gunicorn.app.wsgiapp import run  # noqa: E402

sys.exit(run())
"""


@dataclasses.dataclass(frozen=True)
class Provided:
    """A requirement line the base image satisfies, and the distribution that does."""

    requirement: str
    distribution: Distribution


@dataclasses.dataclass(frozen=True)
class ModelPackages:
    """The project's requirements split into what the base image provides and what to install."""

    provided: tuple[Provided, ...]
    install: tuple[str, ...]

    @property
    def provided_bytes(self) -> int:
        return sum(item.distribution.size for item in self.provided)


def split_requirements(requirements: Iterable[str], base: BasePython) -> ModelPackages:
    """The requirement lines the base image satisfies (a plain name with a version specifier it
    meets; no URL, no extras) and the lines left to install, in order."""
    provided: list[Provided] = []
    install: list[str] = []
    for line in requirements:
        dist = _satisfying(line, base)
        if dist is None:
            install.append(line)
        else:
            provided.append(Provided(line, dist))
    return ModelPackages(tuple(provided), tuple(install))


def _satisfying(line: str, base: BasePython) -> Distribution | None:
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return None  # pip options, paths: pip's business
    dist = base.get(requirement.name)
    if dist is None or requirement.url or requirement.extras:
        return None
    return dist if requirement.specifier.contains(dist.version, prereleases=True) else None


def wheel_name_and_version(wheel: Path) -> tuple[str, str]:
    name, version, _, _ = parse_wheel_filename(wheel.name)
    return str(name), str(version)


def wheels_to_install(wheels: Iterable[Path], base: BasePython) -> tuple[list[Path], list[Distribution]]:
    """The resolved wheels minus those the base image has at the very same version (a dependency
    it already provides): (wheels to install, base distributions used instead)."""
    install, reused = [], []
    for wheel in sorted(wheels):
        name, version = wheel_name_and_version(wheel)
        dist = base.get(name)
        if dist is not None and dist.version == version:
            reused.append(dist)
        else:
            install.append(wheel)
    return install, reused


def hidden_by_server(server_wheels: Iterable[Path], base: BasePython) -> list[tuple[Distribution, str]]:
    """The base image's distributions that the server's own, at another version, hide inside the
    server process: (the base image's distribution, the server's version)."""
    hidden = []
    for wheel in server_wheels:
        name, version = wheel_name_and_version(wheel)
        dist = base.get(name)
        if dist is not None and dist.version != version:
            hidden.append((dist, version))
    return hidden


def wheel_modules(wheel: Path) -> set[str]:
    """The top-level modules a wheel installs (from its file list)."""
    with zipfile.ZipFile(wheel) as archive:
        names = {entry.split("/", 1)[0] for entry in archive.namelist()}
    return {
        name.split(".", 1)[0]
        for name in names
        if not name.endswith((".dist-info", ".data"))
        and (name.endswith((".py", ".so", ".pyd")) or "." not in name)
    }


def code_imports(code_dir: Path) -> set[str]:
    """Top-level modules the Python files under code/ import (absolute imports), minus the
    standard library's, the image's own (uai, httpserver) and code/'s own modules."""
    imported: set[str] = set()
    for path in code_dir.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue  # the conf check names a broken main module; others may be data
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    own = {path.stem for path in code_dir.glob("*.py")} | {
        path.name for path in code_dir.iterdir() if path.is_dir()
    }
    return imported - set(sys.stdlib_module_names) - SERVER_MODULES - own


def imports_from_base(imports: Iterable[str], base: BasePython) -> dict[str, Distribution]:
    """The imported modules that the base image's distributions provide, by module."""
    by_module = {module: dist for dist in base.distributions for module in dist.modules}
    return {module: by_module[module] for module in sorted(imports) if module in by_module}


def describe(dist: Distribution) -> str:
    return f"{dist.name} {dist.version}"


@dataclasses.dataclass(frozen=True)
class Resolved:
    """Everything the package stage of a build needs, resolved on the host."""

    base: BasePython
    server: tuple[str, ...]
    model: ModelPackages
    server_wheels: tuple[Path, ...] = ()
    model_wheels: tuple[Path, ...] = ()
    reused: tuple[Distribution, ...] = ()


def model_requirements(settings: Settings, project: Project) -> list[str]:
    """The project's requirement lines plus the packages `--ai-arch-v` adds."""
    return [*wheels.requirement_lines(project.requirements), *settings.packages]


def resolve(settings: Settings, project: Project, network: bool) -> Resolved:
    """Ask the base image what it has, leave out what it satisfies and, unless the build may reach
    the index itself, get wheels for the rest: the server's closure and the project's."""
    for source in (project.server_dir / "requirements.txt", project.requirements):
        if not source.is_file():
            raise UserError(f"{source} is missing; restore it from the template (it may be empty).")
    base = wheels.base_python(settings.base_image)
    server = tuple(wheels.requirement_lines(project.server_dir / "requirements.txt"))
    model = split_requirements(model_requirements(settings, project), base)
    if network:
        return Resolved(base, server, model)
    count = len(server) + len(model.install)
    say(f"resolving {count} Python requirement(s) for the base image on the host...")
    server_wheels = tuple(sorted(wheels.wheelhouse(list(server), base.target).glob("*.whl")))
    house = wheels.wheelhouse(list(model.install), base.target) if model.install else None
    model_wheels, reused = wheels_to_install(house.glob("*.whl") if house else (), base)
    return Resolved(base, server, model, server_wheels, tuple(model_wheels), tuple(reused))


def stage(resolved: Resolved, context: Path) -> None:
    """requirements/, wheels/{server,model}/ and bin/gunicorn of the build context."""
    (context / "requirements").mkdir(parents=True)
    (context / "requirements" / "server.txt").write_text("".join(f"{line}\n" for line in resolved.server))
    (context / "requirements" / "model.txt").write_text(
        "".join(f"{line}\n" for line in resolved.model.install)
    )
    for kind, found in (("server", resolved.server_wheels), ("model", resolved.model_wheels)):
        (context / "wheels" / kind).mkdir(parents=True)
        for wheel in found:
            try:
                os.link(wheel, context / "wheels" / kind / wheel.name)
            except OSError:
                shutil.copyfile(wheel, context / "wheels" / kind / wheel.name)
    (context / "bin").mkdir()
    (context / "bin" / "gunicorn").write_text(LAUNCHER)
    (context / "bin" / "gunicorn").chmod(0o755)


def report(resolved: Resolved, code_dir: Path) -> None:
    """Say what the base image provides, what gets installed and what the server hides."""
    base, model = resolved.base, resolved.model
    if model.provided:
        shown = ", ".join(f"{item.requirement} ({describe(item.distribution)})" for item in model.provided)
        say(
            f"the base image provides {len(model.provided)} requirement(s), not reinstalled: {shown} "
            f"({human_bytes(model.provided_bytes + sum(dist.size for dist in resolved.reused))})"
        )
    if resolved.reused:
        shown = ", ".join(map(describe, resolved.reused))
        say(f"dependencies the base image has at the resolved version: {shown}")
    if model.install:
        say(
            f"installing {len(model.install)} requirement(s) the base image lacks: {', '.join(model.install)}"
        )
    if code_dir.is_dir():
        report_imports(resolved, code_imports(code_dir))
    for dist, version in hidden_by_server(resolved.server_wheels, base):
        say(
            f"note: inside the server process the server's {dist.name} {version} hides the base image's "
            f"{dist.version} (outside it, the base image's python3 still has its own)",
            style="yellow",
        )


def report_imports(resolved: Resolved, imports: set[str]) -> None:
    """Say which of code/'s imports the base image provides, and (when every wheel is known, i.e.
    offline) which nothing provides: the load would fail with ModuleNotFoundError."""
    from_base = imports_from_base(imports, resolved.base)
    if from_base:
        shown = ", ".join(f"{module} ({describe(dist)})" for module, dist in from_base.items())
        say(f"code/ imports from the base image: {shown}")
    if not resolved.server_wheels:
        return  # a networked build: pip in the image resolves, the installed modules are not known here
    installed = set().union(
        *(wheel_modules(wheel) for wheel in (*resolved.server_wheels, *resolved.model_wheels))
    )
    missing = sorted(imports - set(from_base) - installed)
    if missing:
        say(
            f"note: code/ imports {', '.join(missing)}, which neither the base image nor requirements.txt "
            "provides; add it to requirements.txt, or the model load fails with ModuleNotFoundError",
            style="yellow",
        )
