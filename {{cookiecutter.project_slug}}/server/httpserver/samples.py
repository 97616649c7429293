"""Samples: request bodies in samples/ beside their expected answers; their rules live here, once.

`samples/<name>.<ext>` is a body (content type from the extension); beside it
`<name>.expected` is the exact expected body (one trailing newline ignored, on both sides) or
`<name>.expected.json`, compared as JSON with a relative float tolerance of 1e-4.
The image's console page and its OpenAPI examples read them (`UAI_SAMPLES_DIR`), and so
do the project's tools (`uaipack.samples`: `invoke smoke-test`, the project's unit tests).
Imports no Django.
"""

from __future__ import annotations

import dataclasses
import json
import math
import mimetypes
import os
from pathlib import Path
from typing import Any

from httpserver.config import SERVER_ROOT

SAMPLES_ENV = "UAI_SAMPLES_DIR"
FLOAT_TOLERANCE = 1e-4
#: What may sit in samples/ without being a sample.
NOT_SAMPLES = {"README.md"}


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str
    body_path: Path
    expected_path: Path | None

    @property
    def body(self) -> bytes:
        return self.body_path.read_bytes()

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.body_path.name)[0] or "application/octet-stream"

    @property
    def expects_json(self) -> bool:
        return self.expected_path is not None and self.expected_path.name.endswith(".expected.json")

    @property
    def expected(self) -> bytes:
        """The expected answer as compared: an exact body loses one trailing newline."""
        if self.expected_path is None:
            raise FileNotFoundError(f"samples/{self.name} has no expected answer")
        expected = self.expected_path.read_bytes()
        if not self.expects_json and expected.endswith(b"\n"):
            return expected[:-1]
        return expected

    def mismatch(self, answer: bytes | str) -> str | None:
        """None when the answer is the expected one, else a short description of the difference."""
        if isinstance(answer, str):
            answer = answer.encode()
        if self.expected_path is None:
            return f"no expected answer: add samples/{self.name}.expected (or .expected.json)"
        expected = self.expected
        if self.expects_json:
            try:
                got = json.loads(answer)
            except ValueError:
                return f"answer is not JSON: {_shorten(answer)}"
            return None if json_close(got, json.loads(expected)) else _differ(expected, answer)
        # One trailing newline is ignored on the answer too: UAI's answers end with one ("2\n").
        return None if answer.removesuffix(b"\n") == expected else _differ(expected, answer)


def samples_dir(environ: dict | None = None) -> Path:
    """Where the samples are: `UAI_SAMPLES_DIR` (the image sets it), else the project's samples/
    beside server/ (as `invoke serve` runs it)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(SAMPLES_ENV) or SERVER_ROOT.parent / "samples")


def find_samples(folder: Path) -> list[Sample]:
    """Every sample in the folder, sorted by name (none when it does not exist); a body without an
    expected answer has `expected_path` None (the tools refuse it, the console shows it)."""
    if not folder.is_dir():
        return []
    bodies = sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and ".expected" not in path.name
        and not path.name.startswith(".")
        and path.name not in NOT_SAMPLES
    )
    samples = []
    for body in bodies:
        stem = body.name.split(".", 1)[0]
        candidates = [folder / f"{stem}.expected", folder / f"{stem}.expected.json"]
        samples.append(Sample(stem, body, next((path for path in candidates if path.is_file()), None)))
    return samples


def json_close(got: Any, expected: Any) -> bool:
    """Equal JSON, floats compared with a relative tolerance."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return got == expected
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(got, expected, rel_tol=FLOAT_TOLERANCE, abs_tol=1e-12)
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(map(json_close, got, expected))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(json_close(got[key], expected[key]) for key in expected)
    return got == expected


def _differ(expected: bytes, answer: bytes) -> str:
    return f"expected {_shorten(expected)}, got {_shorten(answer)}"


def _shorten(data: bytes, limit: int = 60) -> str:
    text = data.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")
