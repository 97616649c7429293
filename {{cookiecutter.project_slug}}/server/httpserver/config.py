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

from uai.values import yes_no

# The folder holding httpserver/ and uai/, wherever the server runs (in the image, UAI's
# /ai-ucloud-client-django; on the host, a project's server/): relative conf paths start here.
SERVER_ROOT = Path(__file__).resolve().parent.parent
CONF_ENV = "UAI_SERVICE_CONFIG"


class ConfError(Exception):
    """The conf or a knob is unusable; the message is one line naming the key or file."""


def knob(default: int | float | bool, *, minimum: float | None = None, above: float | None = None, help: str):
    """One knob of the table below: its default, its bound (`minimum` inclusive, `above`
    exclusive) and the sentence that documents it (docs, schema and invoke.yaml use it)."""
    return dataclasses.field(default=default, metadata={"minimum": minimum, "above": above, "help": help})


@dataclass(frozen=True)
class ServerSettings:
    """The `server` knobs: the one table where each is defined (name, type, default, bound, help).

    Everything else is derived from it: the conf schema's `server` part, the defaults the
    tools write, invoke.yaml's commented block and the README's table (`python -m
    devtools.generate` rewrites those; a test checks they are current). A new knob is one line here.
    """

    max_batch_size: int = knob(32, minimum=1, help="most requests per `execute` call")
    max_latency_ms: float = knob(
        2.0,
        minimum=0,
        help="how long the first request of a batch may wait for company; only waited while other "
        "requests are on their way, so a lone client never waits; 0 = take what is queued now (UAI)",
    )
    queue_size: int = knob(
        1024,
        minimum=1,
        help="requests waiting for the batching loop before new ones get 503 `Server is busy`",
    )
    max_body_bytes: int = knob(16 * 1024 * 1024, minimum=1, help="largest request body; larger ones get 413")
    request_timeout_s: float = knob(30.0, above=0, help="a request waiting longer gets 504")
    execute_timeout_s: float = knob(
        0.0,
        minimum=0,
        help="longest one `execute` call may run; past it the process is stalled: /readyz and /healthz "
        "answer 503 (so an orchestrator restarts it) and new requests 503 until it returns, and "
        "gunicorn's master restarts the worker past its timeout; 0 = request_timeout_s",
    )
    workers: int = knob(
        1,
        minimum=1,
        help="processes; each loads its own model and runs its own batching loop (memory x workers)",
    )
    graceful_timeout_s: float = knob(
        8.0,
        minimum=0,
        help="on SIGTERM, how long to finish accepted requests before exiting (fits docker stop's 10 s)",
    )
    console: bool = knob(
        True, help="serve the console page at / (try the model in a browser); off: its routes answer 404"
    )

    max_header_bytes: int = knob(
        32 * 1024, minimum=256, help="largest request line plus headers; larger get 414 or 431"
    )
    max_headers: int = knob(100, minimum=1, help="most header fields in a request; more get 431")
    header_timeout_s: float = knob(
        10.0, above=0, help="time a client has to send a request's line and headers; slower get 408"
    )
    body_timeout_s: float = knob(
        15.0, above=0, help="longest pause while a request body arrives; longer get 408"
    )
    send_timeout_s: float = knob(
        30.0,
        above=0,
        help="an answer its client reads none of for this long (counted again from each read) has "
        "its connection reset and the rest dropped; a client that never reads held the connection "
        "and the answer for as long as it stayed connected",
    )
    keepalive_timeout_s: float = knob(
        5.0,
        above=0,
        help="an idle connection (before its first request or between requests) is closed after this "
        "long; keep it above the idle timeout of a load balancer in front",
    )
    max_connections: int = knob(
        1000, minimum=1, help="open connections per worker; more are answered 503 `Server is busy` and closed"
    )

    def __post_init__(self) -> None:
        for spec in knob_specs():
            value = getattr(self, spec.name)
            if spec.minimum is not None and value < spec.minimum:
                raise ConfError(
                    f"server.{spec.name} = {value} is too small; it must be at least {spec.minimum:g}"
                )
            if spec.above is not None and value <= spec.above:
                raise ConfError(
                    f"server.{spec.name} = {value} is too small; it must be more than {spec.above:g}"
                )


@dataclass(frozen=True)
class KnobSpec:
    """A knob as the table defines it, for the code that derives schema, defaults and docs."""

    name: str
    type: type
    default: int | float | bool
    minimum: float | None
    above: float | None
    help: str

    @property
    def env_name(self) -> str:
        return env_name(self.name)


def env_name(knob: str) -> str:
    """The environment variable that sets a knob at run time: `UAI_<KNOB>`."""
    return f"UAI_{knob.upper()}"


_TYPES = {"int": int, "float": float, "bool": bool}


def knob_specs() -> tuple[KnobSpec, ...]:
    """Every knob of `ServerSettings`, in table order."""
    return tuple(
        KnobSpec(
            field.name,
            _TYPES[field.type] if isinstance(field.type, str) else field.type,
            field.default,
            field.metadata["minimum"],
            field.metadata["above"],
            field.metadata["help"],
        )
        for field in dataclasses.fields(ServerSettings)
    )


def knob_defaults() -> dict[str, int | float | bool]:
    """The defaults, as the tools write them into conf.json (whole floats as ints: `2`, not `2.0`)."""
    return {
        spec.name: int(spec.default)
        if spec.type is float and float(spec.default).is_integer()
        else spec.default
        for spec in knob_specs()
    }


def server_schema() -> dict:
    """The JSON Schema of the conf's `server` section."""
    properties = {}
    for spec in knob_specs():
        rule: dict = {"type": {int: "integer", float: "number", bool: "boolean"}[spec.type]}
        if spec.minimum is not None:
            rule["minimum"] = spec.minimum
        if spec.above is not None:
            rule["exclusiveMinimum"] = spec.above
        rule["description"] = spec.help
        properties[spec.name] = rule
    return {"type": "object", "properties": properties, "additionalProperties": False}


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
    specs = {spec.name: spec for spec in knob_specs()}
    unknown = sorted(set(section) - set(specs))
    if unknown:
        raise ConfError(f"server.{unknown[0]} is not a knob; known: {', '.join(specs)}")
    values = {}
    for name, spec in specs.items():
        source, raw = f"server.{name}", section.get(name)
        if environ.get(spec.env_name):
            source, raw = spec.env_name, environ[spec.env_name]
        if raw is not None:
            values[name] = _convert(raw, spec.type, source)
    return ServerSettings(**values)


def load_settings(environ: dict | None = None) -> ServerSettings:
    """The knobs for the conf `UAI_SERVICE_CONFIG` names (defaults plus env when it is unset)."""
    environ = os.environ if environ is None else environ
    conf = read_conf(conf_path(environ)) if environ.get(CONF_ENV) else None
    return server_settings(conf, environ)


def _convert(raw: object, wanted: type, source: str) -> int | float | bool:
    if wanted is bool:
        try:
            return yes_no(raw)
        except ValueError:
            raise ConfError(f"{source} = {raw!r} is not true or false") from None
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
