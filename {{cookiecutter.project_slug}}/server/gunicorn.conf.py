"""gunicorn settings for the inference server: `gunicorn -c gunicorn.conf.py httpserver.wsgi`.

Worker model (chosen by measurement, see BENCHMARKS.md): `workers` processes, each an
event loop (uvicorn: uvloop + httptools) serving Django's ASGI handler, and one batching
thread that runs `execute`. Knobs come from the conf named by
`UAI_SERVICE_CONFIG` (its `server` section) and `UAI_<KEY>` variables; the address from
`BIND_HOST` (default 0.0.0.0) and `PORT` (default 8080). With `UAI_CODE_DIR` set the
workers run in that folder, so user code that opens relative paths behaves as in the image.
"""

import os
import sys
from pathlib import Path

SERVER_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(SERVER_ROOT))

from httpserver import multiprocess, supervision  # noqa: E402
from httpserver.config import ConfError, load_settings  # noqa: E402

try:
    _settings = load_settings()
except ConfError as error:  # one line, no traceback; the master exits non-zero
    print(f"model load failed: {error}", file=sys.stderr, flush=True)
    raise SystemExit(4) from None

# The workers' shared metrics directory, named before a worker imports prometheus-client.
multiprocess.prepare()
child_exit = multiprocess.child_exit
# One line per dead worker, naming how it died and the batch it ran (httpserver.supervision).
supervision.install_master()


def on_exit(server):
    """The master is about to exit: remove its metrics directory and flight records."""
    multiprocess.on_exit(server)
    supervision.remove_files(os.getpid())


bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"
worker_class = "httpserver.workers.ServiceWorker"
workers = _settings.workers
graceful_timeout = max(1, round(_settings.graceful_timeout_s))
# The heartbeat comes from the worker's event loop, which a long execute does not block.
timeout = max(30, int(_settings.request_timeout_s) + 10)
# The heartbeat files go to memory: the image runs on a read-only root file system.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Each worker loads its own model after the fork; a preloaded one would lose its threads.
preload_app = False
accesslog = None  # the server writes its own access line (with the batch size)
errorlog = "-"
loglevel = os.environ.get("UAI_LOG_LEVEL", "info").lower()
proc_name = "uai-inference"

if os.environ.get("UAI_CODE_DIR"):
    chdir = str(Path(os.environ["UAI_CODE_DIR"]).resolve())
    pythonpath = str(SERVER_ROOT)


def worker_exit(server, worker):
    """The worker has answered its in-flight requests; answer anything still queued."""
    if worker.pid != os.getpid():
        return  # the master calls it too, for a worker already gone: nothing to drain there
    from httpserver import logs, runtime

    current = runtime.installed()
    if current is not None:
        # The worker's shutdown has run the drain (httpserver.workers.stop_budgets), which ends
        # just before the master's kill: waiting again for a loop still in execute would be
        # killed silently, with the lines below. Otherwise (no drain ran) the loop gets 1 s.
        # Batcher.stop logs what it answered 503.
        current.stop(timeout=1 if current.batcher.alive else 0)
    logs.refusals.flush()  # the overload summary of the last seconds
