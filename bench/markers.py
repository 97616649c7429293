"""Figures into the docs: replace the text between two HTML-comment markers of a file, nothing else."""

from __future__ import annotations

from pathlib import Path


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
