"""The base-image catalogue: which base image and packages serve each framework version.

UAI's `--ai_arch_v` (e.g. `caffe-1.0.0`) picked a base image from a catalogue of framework
versions, with CPU and GPU variants. Here every template framework has one CPU entry, built
on the local Debian Python base image with the pinned CPU-only packages of the framework
registry (`uai.frameworks`, which also writes them into that framework's requirements.txt),
and, where the framework has a GPU build, a GPU entry that names the CUDA base image and
the GPU packages to use instead: documented, not built or tested here.

    invoke base-images                 -> render_table()
    invoke build --ai-arch-v sklearn-1.x -> lookup("sklearn-1.x").base_image, .packages
"""

from __future__ import annotations

import dataclasses

from uaipack import UserError, server_module
from uaipack.settings import LOCAL_BASE_IMAGE, Settings

DEVICES = ("cpu", "gpu")


@dataclasses.dataclass(frozen=True)
class BaseImage:
    """One catalogue entry: `ai_arch_v` plus device names a base image and the packages to add."""

    ai_arch_v: str
    framework: str
    version: str
    device: str
    base_image: str
    packages: tuple[str, ...]
    note: str = ""

    @property
    def built_here(self) -> bool:
        """CPU entries are built and tested here; GPU entries are documented only."""
        return self.device == "cpu"


def _entries() -> tuple[BaseImage, ...]:
    """A CPU entry per template framework (its stub's packages on the local base image), then
    its GPU variant where the registry names one."""
    entries = []
    for framework in server_module("uai.frameworks").REGISTRY.values():
        if not framework.template:
            continue
        note = (
            framework.packages_note.splitlines()[0]
            if framework.packages
            else "pure Python; add your own packages"
        )
        variants = [("cpu", LOCAL_BASE_IMAGE, framework.packages, note)]
        if framework.gpu is not None:
            gpu = framework.gpu
            variants.append(("gpu", gpu.base_image, gpu.packages, gpu.note))
        entries += [
            BaseImage(framework.ai_arch_v, framework.name, framework.version, *variant)
            for variant in variants
        ]
    return tuple(entries)


CATALOGUE: tuple[BaseImage, ...] = _entries()

HEADERS = ("ai_arch_v", "framework", "version", "device", "base image", "packages", "note")


def table(device: str = "all") -> list[tuple[str, ...]]:
    """One row of strings per entry (of one device, or all), in HEADERS order."""
    if device not in (*DEVICES, "all"):
        raise UserError(f"device {device!r} is unknown; use one of: {', '.join(DEVICES)}, all.")
    return [
        (
            entry.ai_arch_v,
            entry.framework,
            entry.version,
            entry.device,
            entry.base_image,
            " ".join(entry.packages) or "-",
            entry.note,
        )
        for entry in CATALOGUE
        if device in ("all", entry.device)
    ]


def render_table(device: str = "all") -> str:
    """The catalogue as a plain-text table with aligned columns (`invoke base-images`)."""
    rows = [HEADERS, *table(device)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def lookup(ai_arch_v: str, device: str = "cpu") -> BaseImage:
    """The entry for `ai_arch_v` on `device` ("cpu" or "gpu"); a UserError names the known values."""
    device = device.lower()
    if device not in DEVICES:
        raise UserError(f"device {device!r} is unknown; use one of: {', '.join(DEVICES)}.")
    for entry in CATALOGUE:
        if entry.ai_arch_v == ai_arch_v and entry.device == device:
            return entry
    known = sorted({entry.ai_arch_v for entry in CATALOGUE if entry.device == device})
    raise UserError(f"--ai-arch-v {ai_arch_v!r} has no {device} base image; use one of: {', '.join(known)}.")


def for_framework(framework: str, device: str = "cpu") -> BaseImage | None:
    """The catalogue entry of a template framework on `device`, or None when it has none."""
    return next(
        (entry for entry in CATALOGUE if entry.framework == framework and entry.device == device), None
    )


def with_arch(settings: Settings, ai_arch_v: str | None) -> Settings:
    """The settings with UAI's --ai-arch-v applied: that entry's base image, and its packages
    added to the project's own."""
    base_image, packages = base_image_for(ai_arch_v, settings)
    if base_image is None:
        return settings
    return dataclasses.replace(settings, base_image=base_image, packages=settings.packages + packages)


def base_image_for(ai_arch_v: str | None, settings: Settings) -> tuple[str | None, tuple[str, ...]]:
    """UAI's --ai-arch-v: a base image (and its packages) from uai.base_images, else the catalogue."""
    if ai_arch_v is None:
        return None, ()
    if ai_arch_v in settings.base_images:
        return settings.base_images[ai_arch_v], ()
    entry = lookup(ai_arch_v)
    return entry.base_image, tuple(entry.packages)
