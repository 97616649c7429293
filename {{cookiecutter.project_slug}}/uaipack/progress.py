"""What the user sees during long work: build steps, per-layer push bars, result tables (rich).

On a terminal the bars are live; in CI (no terminal) rich prints only the plain lines,
so logs stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)


def say(message: str, style: str | None = None) -> None:
    """One plain line of output (not markup: user text may contain brackets)."""
    console.print(escape(message), style=style)


class BuildSteps:
    """A bar over the Dockerfile's steps; every step is printed, cached ones dimmed."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("building", total=None)

    def __enter__(self) -> BuildSteps:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def step(self, number: int, total: int, instruction: str) -> None:
        self._progress.update(
            self._task, completed=number - 1, total=total, description=escape(instruction[:60])
        )
        shown = " ".join(instruction.split())
        say(f"  step {number}/{total}: {shown[:110] + ('...' if len(shown) > 110 else '')}", style="cyan")

    def cached(self) -> None:
        say("    (cached)", style="dim")

    def done(self) -> None:
        task = self._progress.tasks[0]
        self._progress.update(self._task, completed=task.total or 0)


class LayerBars:
    """One byte bar per layer being pushed; a line per finished layer."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("  {task.description}"), BarColumn(), DownloadColumn(), console=console, transient=True
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> LayerBars:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def advance(self, layer: str, current: int, total: int | None) -> None:
        if layer not in self._tasks:
            self._tasks[layer] = self._progress.add_task(layer, total=total)
        self._progress.update(self._tasks[layer], completed=current, total=total)

    def finished(self, layer: str, status: str) -> None:
        if layer in self._tasks:
            self._progress.remove_task(self._tasks.pop(layer))
        say(f"  {layer}: {status}", style="dim" if "exists" in status or "Mounted" in status else None)


def show_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    console.print(table)


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB"):
        if abs(size) < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
