"""A local Python base image built from Debian's packages, for machines that cannot pull.

Air-gapped sites (and this project's CI) cannot pull `python:3.11-slim`. This module builds
an equivalent from Debian bookworm with debootstrap, then `docker import`s it. It is the one
implementation behind both the template's and the generated project's `invoke base-image`.
The Debian mirror is the host's own (read from its apt sources), or UAIPACK_DEBIAN_MIRROR.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from uaipack import UserError
from uaipack.engine import client, image_exists
from uaipack.settings import LOCAL_BASE_IMAGE

DEFAULT_TAG = LOCAL_BASE_IMAGE
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "tzdata")
# What a serving image never needs: package caches, docs, man pages, locales.
PRUNED = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/log",
)
IMAGE_CHANGES = [
    "ENV LANG=C.UTF-8",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    'CMD ["python3"]',
]
APT_SOURCES = ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list")


def ensure_base_image(tag: str = DEFAULT_TAG, *, rebuild: bool = False, say=print) -> str:
    """Return `tag`, building it first unless the engine already has it."""
    if image_exists(tag) and not rebuild:
        say(f"base image {tag} is already there (reused)")
        return tag
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="uai-base-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        debootstrap(rootfs, debian_mirror(), say=say)
        prune(rootfs)
        archive = Path(workdir) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        say(f"importing {archive.stat().st_size / 1e6:.0f} MB root file system as {tag}")
        repository, _, version = tag.rpartition(":")
        client().api.import_image_from_file(
            str(archive), repository=repository, tag=version, changes=IMAGE_CHANGES
        )
    say(f"base image {tag} built in {time.monotonic() - started:.0f} s")
    return tag


def debian_mirror() -> str:
    """The Debian mirror this host's apt uses (UAIPACK_DEBIAN_MIRROR overrides it)."""
    if os.environ.get("UAIPACK_DEBIAN_MIRROR"):
        return os.environ["UAIPACK_DEBIAN_MIRROR"]
    for source in APT_SOURCES:
        try:
            text = Path(source).read_text()
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s", text, re.M
        )
        if match:
            return match.group(1)
    raise UserError(
        "no Debian mirror found in this host's apt sources; "
        "set UAIPACK_DEBIAN_MIRROR to one (e.g. your company's Debian mirror)"
    )


def debootstrap(rootfs: Path, mirror: str, *, say=print) -> None:
    """Install a minimal bookworm with Python into `rootfs`, showing progress."""
    if shutil.which("debootstrap") is None:
        raise UserError("debootstrap is not installed: `apt-get install debootstrap` (as root)")
    if os.geteuid() != 0:
        raise UserError("building the base image needs root (debootstrap); run as root or use sudo")
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(rootfs),
        mirror,
    ]
    say(f"debootstrap {SUITE} with {', '.join(PACKAGES)} (a few minutes, once)")
    tail: list[str] = []
    with _status("debootstrap") as update:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-20:]
            update(line)
        process.wait()
    if process.returncode != 0:
        raise UserError(
            f"debootstrap failed (exit {process.returncode}); its last lines:\n" + "\n".join(tail)
        )


def prune(rootfs: Path) -> None:
    """Remove what a serving image never needs, keeping the folders themselves."""
    for relative in PRUNED:
        folder = rootfs / relative
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()


class _status:
    """A one-line live status (rich) showing the latest line of a long step."""

    def __init__(self, title: str):
        self.title = title

    def __enter__(self):
        from rich.console import Console

        self._console = Console(stderr=True)
        self._status = self._console.status(self.title)
        self._status.__enter__()
        self._lines = 0

        def update(line: str) -> None:
            self._lines += 1
            self._status.update(f"{self.title}: {self._lines} steps · {line[:90]}")

        return update

    def __exit__(self, *exc):
        self._status.__exit__(*exc)
        return False
