"""The directory where gunicorn's workers share their metrics, managed from the master.

prometheus-client's multiprocess mode keeps each worker's figures in memory-mapped files in
`PROMETHEUS_MULTIPROC_DIR`; the worker that answers a scrape reads them all (see
`httpserver.metrics`). gunicorn.conf.py calls `prepare()` when the master loads it, before
any worker is forked and before prometheus-client is imported (it reads the variable once,
on import). The directory is new and empty at every server start, on a file system that is
writable when the image runs with a read-only root: `/dev/shm` (a tmpfs in every container),
else the temporary directory. An operator's own `PROMETHEUS_MULTIPROC_DIR` is used instead,
emptied of metric files at start. `child_exit` forgets an exited worker's live gauges (its
counts stay in the totals); `on_exit` removes the directory this module made, and `prepare`
those of servers killed before they could, with their other files (`supervision.remove_dead_masters`).

Nothing here imports prometheus-client at module level: the master imports this module first.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from httpserver import supervision

ENV = "PROMETHEUS_MULTIPROC_DIR"

_prepared: Path | None = None  # this server's directory (kept across gunicorn's reloads)
_made: Path | None = None  # the same, when this module made it (and removes it at exit)


def prepare(environ: dict | None = None) -> Path:
    """Make the metrics directory for this server start and name it in `environ`."""
    global _prepared, _made
    environ = os.environ if environ is None else environ
    if _prepared is not None and environ.get(ENV) == str(_prepared):
        return _prepared  # gunicorn re-reads its conf on SIGHUP: the running workers keep theirs
    supervision.remove_dead_masters()  # metrics directories, flight records, load claims
    given = environ.get(ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        # Named by the master's pid: a directory of that name is a dead server's (in a
        # container the master is pid 1 at every start).
        directory = _made = supervision.directory() / f"uai-metrics-{os.getpid()}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(mode=0o700)
    environ[ENV] = str(directory)
    _prepared = directory
    return directory


def child_exit(server, worker) -> None:
    """gunicorn's hook in the master: a worker has exited; drop its live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """gunicorn's hook in the master at exit: remove the directory `prepare` made."""
    if _made is not None:
        shutil.rmtree(_made, ignore_errors=True)
