"""Build and push benchmarks: `python -m bench.build [--write]` (figures for BENCHMARKS.md).

Bakes the template with its defaults into a temporary folder and, against the real engine
and a local authenticated registry on 127.0.0.1, measures: a cold build (no layer cache;
the host wheelhouse is measured separately), a rebuild after changing one line of code/,
a rebuild after changing a model file, the image size over the base image, seconds from
`docker run` to ready, and the bytes a code-only change pushes. Everything it makes is
removed at the end. `--write` replaces the `## Build and push` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "{{cookiecutter.project_slug}}"
sys.path.insert(0, str(TEMPLATE))
SECTION = "## Build and push"


def bake(output: Path, base_image: str, registry: str) -> Path:
    from cookiecutter.main import cookiecutter

    tag = uuid.uuid4().hex[:8]
    extra = {
        "base_image": base_image,
        "registry": registry,
        "namespace": "bench",
        "image_name": f"bench:{tag}",
    }
    return Path(cookiecutter(str(ROOT), no_input=True, output_dir=str(output), extra_context=extra))


def measure() -> dict[str, str]:
    """Every figure of the section, from one bake against a fresh registry; removes what it made."""
    from uaipack import engine
    from uaipack.baseimage import ensure_base_image
    from uaipack.registry import LocalRegistry

    password = uuid.uuid4().hex
    base_image = ensure_base_image()
    figures: dict[str, str] = {}
    with (
        tempfile.TemporaryDirectory(prefix="uaipack-bench-") as work,
        LocalRegistry("bench", password) as registry,
    ):
        os.environ["XDG_CACHE_HOME"] = str(Path(work) / "cache")  # a cold wheelhouse, measured once
        os.environ["UHUB_PASSWORD"] = password
        bench = BakedBench.make(Path(work), base_image, registry.address)
        try:
            figures.update(bench.wheelhouse())
            cold_seconds = bench.cold_build(figures)
            figures.update(bench.code_change(cold_seconds))
            figures.update(bench.model_change())
        finally:
            with contextlib.suppress(Exception):
                engine.client().images.remove(bench.reference, force=True, noprune=True)
    return figures


@dataclasses.dataclass
class BakedBench:
    """A baked default project and what its steps need, measured one change at a time."""

    settings: Any
    project: Any
    reference: str

    @classmethod
    def make(cls, work: Path, base_image: str, registry: str) -> BakedBench:
        from invoke import Config
        from uaipack.conf import write_conf
        from uaipack.settings import Project, Settings

        project_dir = bake(work, base_image, registry)
        config = Config(project_location=str(project_dir))
        config.load_project()
        settings = Settings.from_config(config.get("uai"), username="bench")
        project = Project.at(project_dir)
        write_conf(settings, project)
        return cls(settings, project, settings.image_reference())

    def build(self, no_cache: bool = False):
        from uaipack.pipeline import build_step

        return build_step(dataclasses.replace(self.settings, no_cache=no_cache), self.project)

    def push(self):
        from uaipack.pipeline import push_step

        return push_step(self.settings)

    def wheelhouse(self) -> dict[str, str]:
        from uaipack import packages

        started = time.monotonic()
        packages.resolve(self.settings, self.project, network=False)  # the wheelhouses the build uses
        return {"wheelhouse (host pip download, first time)": f"{time.monotonic() - started:.1f} s"}

    def cold_build(self, figures: dict[str, str]) -> float:
        """Cold build, size, start-up and first push into `figures`; returns the cold build's seconds."""
        from uaipack.pipeline import smoke_step

        cold = self.build(no_cache=True)
        figures["cold build (no layer cache, wheelhouse ready)"] = f"{cold.seconds:.1f} s"
        figures["image size minus base image"] = f"{(cold.size - cold.base_size) / 1e6:.1f} MB"
        report = smoke_step(self.settings, self.project)
        figures["`docker run` to ready (stub model, load ~0 s)"] = f"{report.seconds_to_ready:.2f} s"
        first = self.push()
        figures["first push"] = f"{first.bytes_pushed / 1e6:.1f} MB in {first.layers_pushed} layers"
        return cold.seconds

    def code_change(self, cold_seconds: float) -> dict[str, str]:
        stub = self.project.code_dir / "mnist_inference.py"
        stub.write_text(stub.read_text() + "\n# one changed line\n")
        code_only = self.build()
        pushed = self.push()
        return {
            "rebuild after one line of code/": (
                f"{code_only.seconds:.1f} s ({100 * code_only.seconds / cold_seconds:.0f}% of cold; "
                f"{code_only.cached_steps}/{code_only.steps} steps cached)"
            ),
            "push after a code-only change": (
                f"{pushed.bytes_pushed / 1e3:.1f} kB in {pushed.layers_pushed} layer(s); "
                f"{pushed.layers_skipped} already there"
            ),
        }

    def model_change(self) -> dict[str, str]:
        (self.project.code_dir / "checkpoint_dir" / "weights.bin").write_bytes(os.urandom(1_000_000))
        model_change = self.build()
        return {
            "rebuild after a model file change (1 MB)": (
                f"{model_change.seconds:.1f} s ({model_change.cached_steps}/{model_change.steps} "
                "steps cached; packages not reinstalled)"
            )
        }


def section(figures: dict[str, str]) -> str:
    when = datetime.date.today().isoformat()
    rows = "\n".join(f"| {name} | {value} |" for name, value in figures.items())
    return (
        f"{SECTION}\n\n"
        f"Measured by `python -m bench.build` on {when} ({os.cpu_count()} cores, {platform.machine()}, "
        'local Docker engine, local registry on 127.0.0.1), the default "self" project on the local '
        "Debian base image. Targets: a `code/`-only rebuild under 5 s and under 10% of the cold build; "
        "a code-only push sends only the small changed layers; the server adds under 40 MB.\n\n"
        "| measure | figure |\n|---|---|\n"
        f"{rows}\n"
    )


def write_section(text: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Replace this script's section only; other sections belong to other benchmarks."""
    current = path.read_text() if path.exists() else ""
    if SECTION in current:
        start = current.index(SECTION)
        following = current.find("\n## ", start + len(SECTION))
        end = len(current) if following == -1 else following + 1
        current = current[:start] + text + ("\n" if following != -1 else "") + current[end:]
    else:
        current = (current.rstrip("\n") + "\n\n" if current else "") + text
    path.write_text(current)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the figures into BENCHMARKS.md")
    arguments = parser.parse_args()
    text = section(measure())
    print(text)
    if arguments.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
