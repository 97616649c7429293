"""What the master says when a worker dies, and the flight record that lets it say which batch.

A worker can die with nothing written: a segfault in native code, `os._exit` in the model,
the kernel's OOM killer (SIGKILL). gunicorn's master then logs "Worker (pid:N) was sent
SIGKILL! Perhaps out of memory?" at best, and nobody knows what was running. Here:

- Worker side (`start_worker`, after the fork): `faulthandler` is on, so a fatal signal
  leaves the Python stack of every thread on stderr; and the batching loop keeps a flight
  record, a small file `uai-flight-<master>-<worker>` in shared memory (`/dev/shm`, where
  gunicorn's heartbeat files are), mapped into the worker's memory. `batch_started` copies a
  description of the batch there and `batch_ended` marks it empty; the kernel keeps the
  page when the worker dies. Measured: 6.5 µs a batch of 1, 13 µs one of 32 (RELIABILITY.md,
  "A worker that dies").
- Master side (`install_master`): gunicorn's `reap_workers` is replaced by `reap_workers`
  below, the same bookkeeping with one line per dead worker naming its pid, how it died
  (signal name, or exit code) and the batch its flight record holds; and an app that failed
  to load (exit code 4) halts the server once, whatever number of workers fail together.
- A failed model load is logged by the first worker only (`first_load_failure`), so that
  `workers = 4` still gives one line.

The master never imports Django or the model: this module needs the standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import mmap
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

SHARED_MEMORY = Path("/dev/shm")
#: The exit code of a worker whose app could not load (gunicorn's APP_LOAD_ERROR).
APP_LOAD_ERROR = 4
#: Requests described in a flight record; the rest are counted.
DESCRIBED = 4
#: How long a worker whose failed load another worker logs waits before it exits.
QUIET_EXIT_DELAY_S = 0.5
#: What the master sends a worker to stop it (gunicorn: SIGTERM, or SIGINT / SIGQUIT for a quick stop).
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})

_record: FlightRecord | None = None
_load_claim: Path | None = None
_sent: dict[int, int] = {}  # master: the signal it last sent each worker


def directory() -> Path:
    """Where the flight records live: shared memory, else the temporary directory."""
    return SHARED_MEMORY if os.access(SHARED_MEMORY, os.W_OK) else Path(tempfile.gettempdir())


def flight_path(master_pid: int, worker_pid: int) -> Path:
    """The flight record of one worker of one master."""
    return directory() / f"uai-flight-{master_pid}-{worker_pid}"


#: The names a server's master gives its files in `directory()`: `flight_path`,
#: `load_claim_path` and `httpserver.multiprocess`'s metrics directory; one group is its pid.
_SERVER_FILE = re.compile(r"uai-flight-(\d+)-\d+|uai-load-failed-(\d+)|uai-metrics-(\d+)")


def load_claim_path(master_pid: int) -> Path:
    """The file the first worker whose model load failed creates (`first_load_failure`)."""
    return directory() / f"uai-load-failed-{master_pid}"


class FlightRecord:
    """The batch a worker is running, in a file the master reads once the worker is gone.

    The file is mapped in memory (shared): a record is a copy into the mapping, ended by a NUL;
    ending it writes a NUL at the start. No system call per batch (measured: a `pwrite` and an
    `ftruncate` cost 21 µs a batch on tmpfs, the mapping under 1 µs)."""

    SIZE = 4096

    def __init__(self, path: Path):
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, self.SIZE)
            self.map = mmap.mmap(fd, self.SIZE)
        finally:
            os.close(fd)

    def started(self, batch: list) -> None:
        """Record the batch `execute` is about to run."""
        data = describe_batch(batch).encode("utf-8", "replace")[: self.SIZE - 1] + b"\0"
        self.map[: len(data)] = data

    def ended(self) -> None:
        """Mark the record empty: no batch is running."""
        self.map[0] = 0


def describe_batch(batch: list) -> str:
    """`<start time> <size>` then up to DESCRIBED requests, one a line."""
    lines = [f"{time.time():.3f} {len(batch)}"]
    lines += [describe_request(getattr(job, "item", job)) for job in batch[:DESCRIBED]]
    return "\n".join(lines)


def describe_request(item: object) -> str:
    """`12 bytes application/json from 10.0.0.7:51234 id=abc`: what the client's logs know (as
    much of it as the item carries; its type's name when it carries none). The one way every
    log line names a request of a batch."""
    parts = []
    body = getattr(item, "body", None)
    if isinstance(body, bytes | bytearray):
        parts.append(f"{len(body)} bytes {getattr(item, 'content_type', '') or 'no content type'}")
    if getattr(item, "client", None):
        parts.append(f"from {item.client}")
    if getattr(item, "request_id", None):
        parts.append(f"id={item.request_id}")
    return " ".join(parts) or type(item).__name__


def requests_text(described: list[str], count: int) -> str:
    """`(a; b, and 3 more)`: the requests described, and how many were not."""
    more = f", and {count - len(described)} more" if count > len(described) else ""
    return f"({'; '.join(described)}{more})"


# -- worker side ------------------------------------------------------------------------------


def start_worker() -> None:
    """In a new worker: faulthandler on, the flight record opened, the load-failure claim named."""
    global _record, _load_claim
    faulthandler.enable(all_threads=True)
    master = os.getppid()
    _load_claim = load_claim_path(master)
    try:
        _record = FlightRecord(flight_path(master, os.getpid()))
    except OSError:
        _record = None  # no shared memory and no temp dir: deaths are still logged, without the batch


def batch_started(batch: list) -> None:
    """The batching loop's hook before `execute`."""
    if _record is not None:
        _record.started(batch)


def batch_ended() -> None:
    """The batching loop's hook after `execute` (returned or raised)."""
    if _record is not None:
        _record.ended()


def first_load_failure() -> bool:
    """True for the one worker that logs a failed model load (always outside gunicorn). The
    others wait `QUIET_EXIT_DELAY_S` before saying False (and exiting): the master stops every
    worker at the first exit, which cut the line of the one that claimed it, now and then."""
    if _load_claim is None:
        return True
    try:
        os.close(os.open(_load_claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        time.sleep(QUIET_EXIT_DELAY_S)
        return False
    except OSError:
        return True
    return True


# -- master side ------------------------------------------------------------------------------


def install_master() -> None:
    """In the master (gunicorn.conf.py): our reaping, and the stale files of this pid removed
    (those of dead masters go in `httpserver.multiprocess.prepare`, which runs first)."""
    from gunicorn.arbiter import Arbiter

    # gunicorn reads its conf again on SIGHUP: the running workers keep their records then.
    if getattr(Arbiter.reap_workers, "__module__", "") != __name__:
        remove_files(os.getpid())
        original_kill = Arbiter.kill_worker

        def kill_worker(arbiter, pid, sig):
            _sent[pid] = sig
            return original_kill(arbiter, pid, sig)

        Arbiter.reap_workers = reap_workers
        Arbiter.kill_worker = kill_worker


def remove_files(master_pid: int) -> None:
    """The flight records and load claim of a server with this master pid (in a container the
    master is pid 1 at every start, so those of the last start are stale)."""
    base = directory()
    for path in [load_claim_path(master_pid), *base.glob(f"uai-flight-{master_pid}-*")]:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_dead_masters() -> None:
    """The files of servers whose master is gone (killed before it could remove them)."""
    for path in directory().glob("uai-*"):
        named = _SERVER_FILE.fullmatch(path.name)
        master = named and next(filter(None, named.groups()))
        if master and not Path(f"/proc/{master}").exists():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def reap_workers(arbiter) -> None:
    """gunicorn's `Arbiter.reap_workers`, with `reaped` saying what happened to each worker.

    Every dead worker is reaped before the server halts: gunicorn raised at the first one, and
    the master then waited its whole graceful_timeout for a zombie nobody reaped."""
    from gunicorn.errors import HaltServer

    halt = None
    try:
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            if arbiter.reexec_pid == pid:
                arbiter.reexec_pid = 0
            else:
                halt = reaped(arbiter, pid, status) or halt
    except OSError as error:
        if error.errno != errno.ECHILD:
            raise
    if halt is not None and not getattr(arbiter, "uai_halting", False):
        # Once: the other workers failing the same way while the master stops must not raise
        # again inside its stop (gunicorn's own code did: exit 1 and three tracebacks).
        arbiter.uai_halting = True
        raise HaltServer(*halt)


def reaped(arbiter, pid: int, status: int) -> tuple[str, int] | None:
    """One worker is gone: log how (one line) and forget it; the halt reason if its app could
    not load."""
    code = os.waitstatus_to_exitcode(status)
    flight = read_flight(os.getpid(), pid)
    sent = _sent.pop(pid, None)
    worker = arbiter.WORKERS.pop(pid, None)
    # gunicorn halts the server on exit codes 3 and 4 (boot and app load failures); a worker
    # that exits so in the middle of a batch (the model's own `os._exit(3)`) has booted.
    halt = {APP_LOAD_ERROR: "App failed to load.", arbiter.WORKER_BOOT_ERROR: "Worker failed to boot."}
    reason = halt.get(code) if flight is None else None
    if code == 0 and sent in STOP_SIGNALS and flight is not None:  # a stop past a hung execute
        arbiter.log.warning(f"worker {pid} stopped on {signal.Signals(sent).name} {batch_text(flight)}")
    elif reason is None and (code != 0 or flight is not None):
        arbiter.log.error(death_line(pid, code, flight, sent))
    if worker is not None:
        worker.tmp.close()
        arbiter.cfg.child_exit(arbiter, worker)
    return (reason, code) if reason is not None else None


def read_flight(master_pid: int, worker_pid: int) -> str | None:
    """The dead worker's flight record (None when no batch was running); the file is removed."""
    path = flight_path(master_pid, worker_pid)
    try:
        data = path.read_bytes()
        path.unlink()
    except OSError:
        return None
    text = data.split(b"\0", 1)[0].decode("utf-8", "replace")
    return text or None


def death_line(pid: int, code: int, flight: str | None, sent: int | None = None) -> str:
    """`worker 12 died: <how>, while running a batch of 3 requests (...)`, one line."""
    return f"worker {pid} died: {how_it_died(code, sent)}, {batch_text(flight)}; a new worker replaces it"


def how_it_died(code: int, sent: int | None = None) -> str:
    """The exit code or signal in words (`sent`: the signal the master sent, if any)."""
    if code >= 0:
        return f"exited with code {code}"
    number = -code
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == sent:
        return f"killed by the master ({name}: past gunicorn's timeout or graceful_timeout_s)"
    if number == signal.SIGKILL:
        return "killed (SIGKILL), likely by the kernel's OOM killer (out of memory)"
    description = signal.strsignal(number) or name
    return f"killed by {name} ({description.lower()})"


def batch_text(flight: str | None) -> str:
    """What the flight record says, in words."""
    if not flight:
        return "while no batch was running"
    head, *requests = flight.splitlines()
    started, _, size = head.partition(" ")
    try:
        age = f" started {time.time() - float(started):.2f} s before"
        count = int(size)
    except ValueError:
        return f"while running a batch ({flight[:200]!r})"
    noun = "request" if count == 1 else "requests"
    return f"while running a batch of {count} {noun}{age} {requests_text(requests, count)}"
