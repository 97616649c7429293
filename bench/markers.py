"""Figures into the docs: the nearest-rank quantile the benchmarks report, and the text between two
HTML-comment markers of a file replaced, nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def quantile(values: Iterable[float], share: float) -> float:
    """The nearest-rank quantile `share` (0.5, 0.99) of `values`; NaN when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def write_between(path: Path, start: str, end: str, text: str) -> None:
    """Put `text` between the markers `start` and `end` of `path` (both must be there)."""
    content = path.read_text() if path.exists() else ""
    if start not in content or end not in content:
        raise SystemExit(f"{path} has no {start} ... {end} markers")
    head, rest = content.split(start, 1)
    path.write_text(f"{head}{start}\n{text}\n{end}{rest.split(end, 1)[1]}")


def report(text: str, path: Path, start: str, end: str, write: bool) -> None:
    """Print the figures; with `write`, also put them between the markers of `path`."""
    print(f"\n{text}")
    if write:
        write_between(path, start, end, text)
        print(f"\nwrote the figures into {path}")
