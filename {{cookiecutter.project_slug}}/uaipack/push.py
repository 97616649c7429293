"""`invoke push`: log in, push with per-layer progress, verify the digest the registry holds.

The password comes from UHUB_PASSWORD, standard input, or the credentials Docker already
stores; never from a flag, so it is in no command line, log, config or image. The push
stream can fail inside an HTTP 200, so every chunk is checked; transient failures (a
dropped connection, a 5xx) are retried a bounded number of times.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import IO

import docker
import requests

from uaipack import UserError, engine
from uaipack.progress import LayerBars, human_bytes, say
from uaipack.settings import Settings, split_reference

PASSWORD_ENV = "UHUB_PASSWORD"
USERNAME_ENV = "UHUB_USERNAME"
REFUSED_PASSWORD_FLAG = (
    "--uhub-password is refused: a password on the command line is visible to every user of this machine; "
    f"set {PASSWORD_ENV}, pipe it to --password-stdin, or run `docker login` once."
)
_TRANSIENT = (
    "connection reset",
    "connection refused",
    "broken pipe",
    "timeout",
    "eof",
    "503",
    "502",
    "500",
    "429",
    "toomanyrequests",
    "temporarily",
)


@dataclasses.dataclass(frozen=True)
class Pushed:
    reference: str
    digest: str
    layers_pushed: int
    layers_skipped: int
    bytes_pushed: int
    seconds: float


class PushFailed(UserError):
    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


def read_password(password_stdin: bool, stdin: IO[str]) -> str | None:
    """The password from stdin (--password-stdin) or UHUB_PASSWORD; None: Docker's stored credentials."""
    if password_stdin:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError(
                "--password-stdin got an empty line; pipe the password in, e.g. "
                "`cat ~/.uhub-password | invoke push --password-stdin`."
            )
        return password
    return os.environ.get(PASSWORD_ENV) or None


def user_name(settings: Settings) -> str | None:
    """The registry user: uai.username (or the task's --username), else UHUB_USERNAME."""
    return settings.username or os.environ.get(USERNAME_ENV)


# How the engine words a registry it could not talk to at all (not a refused login).
UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "network is unreachable")


def uses_stored_credentials(registry: str, username: str | None, password: str | None) -> bool:
    """True (and said) without a password: Docker's stored credentials serve. A password without a
    user name is a UserError. The one rule of `push` (SDK login) and the Swarm tasks (CLI login)."""
    if password is None:
        say(f"no {PASSWORD_ENV} and no --password-stdin: using the credentials Docker stores for {registry}")
        return True
    if not username:
        raise UserError(
            f"a password was given but no user name; set uai.username in invoke.yaml or {USERNAME_ENV}."
        )
    return False


def login(registry: str, username: str | None, password: str | None) -> None:
    """Log the SDK client in; without a password, rely on the credentials Docker stores."""
    if uses_stored_credentials(registry, username, password):
        return
    try:
        engine.client().login(username=username, password=password, registry=registry, reauth=True)
    except docker.errors.APIError as exc:
        reason = _scrub(str(exc.explanation or exc), password)
        if any(sign in reason for sign in UNREACHABLE):
            raise UserError(
                f"the registry {registry} cannot be reached ({reason}); check uai.registry "
                "(or uai.internal_registry with --in-host) and the network."
            ) from None
        raise UserError(
            f"the registry {registry} refused the login of {username!r} ({reason}); "
            f"check the user name and {PASSWORD_ENV}."
        ) from None
    say(f"logged in to {registry} as {username}")


def push_image(reference: str, attempts: int = 3, password: str | None = None) -> Pushed:
    """Push with progress, retrying transient failures; then check the registry holds the digest."""
    if attempts < 1:
        raise UserError(f"push_attempts is {attempts}; it must be at least 1 (tries per push).")
    if not engine.image_exists(reference):
        raise UserError(f"there is no image {reference}; run `invoke build` first.")
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            digest, pushed, skipped, sent = stream_push(reference, password)
        except PushFailed as failure:
            if not failure.transient or attempt == attempts:
                raise
            say(f"push attempt {attempt} of {attempts} failed ({failure}); retrying", style="yellow")
            time.sleep(2**attempt)
            continue
        verify_digest(reference, digest)
        return Pushed(reference, digest, pushed, skipped, sent, time.monotonic() - started)
    raise AssertionError("unreachable: the last attempt returns or raises")


def stream_push(reference: str, password: str | None) -> tuple[str, int, int, int]:
    """One push; returns (digest, layers pushed, layers already there, bytes sent)."""
    repository, tag = split_reference(reference)
    totals: dict[str, int] = {}
    finished: dict[str, str] = {}
    digest = None
    try:
        stream = engine.client().api.push(repository, tag=tag, stream=True, decode=True)
        with LayerBars() as bars:
            for chunk in stream:
                if "error" in chunk or "errorDetail" in chunk:
                    message = _scrub(
                        (chunk.get("errorDetail") or {}).get("message") or chunk["error"], password
                    )
                    raise PushFailed(f"the push of {reference} failed: {message}", _is_transient(message))
                layer, status = chunk.get("id"), chunk.get("status", "")
                progress = chunk.get("progressDetail") or {}
                if layer and progress.get("total"):
                    totals[layer] = max(totals.get(layer, 0), progress["total"])
                    bars.advance(layer, progress.get("current", 0), progress["total"])
                if layer and (
                    status in {"Pushed", "Layer already exists"} or status.startswith("Mounted from")
                ):
                    finished[layer] = status
                    bars.finished(
                        layer, status + (f" ({human_bytes(totals[layer])})" if layer in totals else "")
                    )
                if "aux" in chunk and chunk["aux"].get("Digest"):
                    digest = chunk["aux"]["Digest"]
    except (requests.ConnectionError, docker.errors.APIError) as exc:
        raise PushFailed(f"the push of {reference} failed: {_scrub(str(exc), password)}", True) from None
    if digest is None:
        raise PushFailed(f"the registry reported no digest for {reference}", True)
    pushed = [layer for layer, status in finished.items() if status == "Pushed"]
    return digest, len(pushed), len(finished) - len(pushed), sum(totals.get(layer, 0) for layer in pushed)


def verify_digest(reference: str, digest: str) -> None:
    """Ask the registry (through the engine, with the same credentials) which digest it holds."""
    try:
        held = engine.client().api.inspect_distribution(reference)["Descriptor"]["digest"]
    except docker.errors.APIError as exc:
        raise UserError(
            f"the registry does not show {reference} after the push ({exc.explanation}); "
            "push again, and check the registry's storage."
        ) from None
    if held != digest:
        raise UserError(
            f"the registry holds {held} for {reference}, not the pushed {digest}; "
            "someone pushed the same tag meanwhile: push again."
        )


def _is_transient(message: str) -> bool:
    lowered = message.lower()
    if "unauthorized" in lowered or "denied" in lowered or "authentication required" in lowered:
        return False
    return any(marker in lowered for marker in _TRANSIENT)


def _scrub(text: str, password: str | None) -> str:
    """Never echo a password, whatever an error message contains."""
    return text.replace(password, "***") if password else text
