"""Where the server's inputs come from: the conf file, its `server` section, the environment.

The conf is named by `UAI_SERVICE_CONFIG` (absolute, or relative to the server root).
Its `server` section (UAI confs have none, so every knob has a default) is overridden
key by key by `UAI_<KEY>` environment variables. A bad value is a `ConfError` whose
message is one line naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

SERVER_ROOT = Path(__file__).resolve().parent.parent
CONF_ENV = "UAI_SERVICE_CONFIG"


class ConfError(Exception):
    """The conf or a knob is unusable; the message is one line naming the key or file."""


@dataclass(frozen=True)
class ServerSettings:
    """The `server` knobs; the README in the server folder documents each one."""

    max_batch_size: int = 32
    max_latency_ms: float = 2.0
    queue_size: int = 1024
    max_body_bytes: int = 16 * 1024 * 1024
    request_timeout_s: float = 30.0
    workers: int = 1
    graceful_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        minimums = {
            "max_batch_size": 1,
            "queue_size": 1,
            "max_body_bytes": 1,
            "workers": 1,
            "max_latency_ms": 0,
            "request_timeout_s": 0.001,
            "graceful_timeout_s": 0,
        }
        for key, minimum in minimums.items():
            if getattr(self, key) < minimum:
                raise ConfError(
                    f"server.{key} = {getattr(self, key)} is too small; it must be at least {minimum}"
                )


def conf_path(environ: dict | None = None) -> Path:
    """The conf file `UAI_SERVICE_CONFIG` names, resolved against the server root."""
    environ = os.environ if environ is None else environ
    named = environ.get(CONF_ENV)
    if not named:
        raise ConfError(f"{CONF_ENV} is not set; point it at the service's conf.json")
    return SERVER_ROOT / named  # an absolute path replaces the root


def read_conf(path: Path) -> dict:
    """The conf as a dict; a missing or malformed file is a one-line ConfError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfError(f"{CONF_ENV} '{path}': cannot read it ({error.strerror or error})") from error
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfError(f"{CONF_ENV} '{path}': not valid JSON ({error})") from error
    if not isinstance(conf, dict) or not isinstance(conf.get("http_server"), dict):
        raise ConfError(f"{CONF_ENV} '{path}': no 'http_server' object at the top level")
    return conf


def server_settings(conf: dict | None, environ: dict | None = None) -> ServerSettings:
    """The knobs: defaults, then the conf's `server` section, then `UAI_<KEY>` variables."""
    environ = os.environ if environ is None else environ
    section = (conf or {}).get("server") or {}
    if not isinstance(section, dict):
        raise ConfError("conf key 'server' must be an object of knobs")
    fields = {field.name: field for field in dataclasses.fields(ServerSettings)}
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise ConfError(f"server.{unknown[0]} is not a knob; known: {', '.join(fields)}")
    values = {}
    for name, field in fields.items():
        source, raw = f"server.{name}", section.get(name)
        env_name = f"UAI_{name.upper()}"
        if environ.get(env_name):
            source, raw = env_name, environ[env_name]
        if raw is not None:
            values[name] = _convert(raw, field.type, source)
    return ServerSettings(**values)


def load_settings(environ: dict | None = None) -> ServerSettings:
    """The knobs for the conf `UAI_SERVICE_CONFIG` names (defaults plus env when it is unset)."""
    environ = os.environ if environ is None else environ
    conf = read_conf(conf_path(environ)) if environ.get(CONF_ENV) else None
    return server_settings(conf, environ)


def _convert(raw: object, type_name: object, source: str) -> int | float:
    wanted = int if type_name in (int, "int") else float
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = float(raw)
        if wanted is int:
            if not number.is_integer():
                raise ValueError
            return int(number)
        return number
    except (TypeError, ValueError):
        kind = "a whole number" if wanted is int else "a number"
        raise ConfError(f"{source} = {raw!r} is not {kind}") from None
