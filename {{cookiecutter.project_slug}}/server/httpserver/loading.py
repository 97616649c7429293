"""Loading the user's model: import `http_server.exec.main_file`, instantiate `main_class(conf)`.

`ModelHost` wraps the instance with an explicit status (loading -> ready | failed) and
loads it once, in a background thread, so the process answers `/healthz` and
`/initialized` (NO) while a large model loads. Every way a load can fail becomes a
`LoadError` whose message is ONE line naming the conf key, file or class and the cause;
the host logs that line with the traceback after it and calls its failure hook (under
gunicorn: exit the process so the whole server stops non-zero).
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from httpserver import supervision
from httpserver.config import ConfError, read_conf

log = logging.getLogger("httpserver.loading")

LOADING, READY, FAILED = "loading", "ready", "failed"


class LoadError(Exception):
    """The model could not be loaded; the message is the one line the log shows first."""


def module_name(main_file: str) -> str:
    """`main_file` as a module path: dots allowed; a tolerated `pkg/mod.py` becomes `pkg.mod`."""
    name = main_file.strip()
    if name.endswith(".py"):
        name = name[:-3].replace("/", ".")
    return name


def import_main_module(main_file: str, code_root: Path):
    """Import the user's module from the code root; a failure is a one-line LoadError."""
    key = f"http_server.exec.main_file '{main_file}'"
    name = module_name(main_file)
    if not name:
        raise LoadError(f"{key}: empty; name the module that holds the inference class")
    root = str(code_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        parts = name.split(".")
        if error.name in {".".join(parts[:i]) for i in range(1, len(parts) + 1)}:
            raise LoadError(f"{key}: no module named {error.name} under {code_root}") from error
        raise LoadError(f"{key}: importing it failed: {_cause(error)}") from error
    except BaseException as error:  # SyntaxError, SystemExit in user code, ...
        raise LoadError(f"{key}: importing it failed: {_cause(error)}") from error


def create_instance(conf: dict, code_root: Path):
    """The user's inference object, `main_class(conf)`; failures are one-line LoadErrors."""
    exec_section = conf.get("http_server", {}).get("exec")
    if not isinstance(exec_section, dict):
        raise LoadError("http_server.exec: missing from the conf; it needs main_file and main_class")
    for key in ("main_file", "main_class"):
        if not isinstance(exec_section.get(key), str) or not exec_section[key].strip():
            raise LoadError(f"http_server.exec.{key}: missing from the conf")
    module = import_main_module(exec_section["main_file"], code_root)
    class_name = exec_section["main_class"].strip()
    where = getattr(module, "__file__", None) or module.__name__
    cls = getattr(module, class_name, None)
    key = f"http_server.exec.main_class '{class_name}'"
    if cls is None or not callable(cls):
        raise LoadError(f"{key}: no such class in {where}")
    try:
        instance = cls(conf)
    except FileNotFoundError as error:
        raise LoadError(
            f"{key} ({where}): {error.args[0] if len(error.args) == 1 else _cause(error)}"
        ) from error
    except BaseException as error:
        raise LoadError(f"{key} ({where}): creating it failed: {_cause(error)}") from error
    if not callable(getattr(instance, "execute", None)):
        raise LoadError(f"{key} ({where}): it has no execute(self, data, batch_size) method")
    return instance


class ModelHost:
    """The user's model with an explicit status; `execute` forwards to it once ready."""

    def __init__(
        self,
        conf_file: Path | None = None,
        code_root: Path | None = None,
        *,
        conf: dict | None = None,
        instance: object | None = None,
    ):
        self.conf_file = conf_file
        self.code_root = code_root
        self.conf = conf
        self.instance = instance
        self.status = READY if instance is not None else LOADING
        self.failure: str | None = None
        self.load_seconds: float | None = 0.0 if instance is not None else None
        self.loaded = threading.Event()
        if instance is not None:
            self.loaded.set()

    @property
    def ready(self) -> bool:
        return self.status == READY

    def execute(self, data: list, batch_size: int):
        return self.instance.execute(data, batch_size)

    def load(self) -> bool:
        """Load now, in this thread; True when ready. A failure is logged as one line + traceback."""
        started = time.perf_counter()
        try:
            if self.conf is None:
                try:
                    self.conf = read_conf(self.conf_file)
                except ConfError as error:
                    raise LoadError(str(error)) from None
            self.instance = create_instance(self.conf, self.code_root)
        except Exception as unexpected:
            error = (
                unexpected
                if isinstance(unexpected, LoadError)
                else LoadError(f"loading the model failed: {_cause(unexpected)}")
            )
            if error is not unexpected:
                error.__cause__ = unexpected
            self.failure = str(error)
            self.status = FAILED
            self.loaded.set()
            if supervision.first_load_failure():  # with several workers, one says it
                cause = error.__cause__
                log.error(
                    "model load failed: %s",
                    error,
                    exc_info=(type(cause), cause, cause.__traceback__) if cause is not None else None,
                )
            return False
        self.load_seconds = time.perf_counter() - started
        self.status = READY
        self.loaded.set()
        log.info("model ready: %s loaded in %.2f s", type(self.instance).__name__, self.load_seconds)
        return True

    def start(
        self, on_ready: Callable[[], None] | None = None, on_failure: Callable[[str], None] | None = None
    ) -> threading.Thread:
        """Load in a background thread, then call `on_ready()` or `on_failure(message)`."""

        def run() -> None:
            if self.load():
                if on_ready:
                    on_ready()
            elif on_failure:
                on_failure(self.failure or "model load failed")

        thread = threading.Thread(target=run, name="uai-model-load", daemon=True)
        thread.start()
        return thread


def _cause(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
