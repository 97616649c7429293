"""Which runtime this is: the template's version (defined here, once) and the commit it came from.

The version is this file's `VERSION`; the commit is recorded at bake time in
`server/RUNTIME_COMMIT` (absent in a checkout of the template itself, where git knows it).
Images carry both as a label, a metric (`uaipack_build_info`) and a start-up log line.
"""

from __future__ import annotations

from pathlib import Path

VERSION = "0.9.0"
COMMIT_FILE = Path(__file__).resolve().parents[1] / "RUNTIME_COMMIT"


def runtime_info() -> dict[str, str]:
    """{"version": ..., "commit": ...}; the commit is "unknown" when none was recorded."""
    try:
        commit = COMMIT_FILE.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        commit = "unknown"
    return {"version": VERSION, "commit": commit}
