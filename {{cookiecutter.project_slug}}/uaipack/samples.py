"""Samples: request bodies in samples/ with their expected answers.

`samples/<name>.<ext>` is a body (content type from the extension); beside it
`<name>.expected` is the exact expected body (one trailing newline ignored, on both sides) or
`<name>.expected.json`, compared as JSON with a relative float tolerance of 1e-4.
Used by `invoke smoke-test` (over HTTP) and by the project's unit tests (in process).
"""

from __future__ import annotations

import dataclasses
import json
import math
import mimetypes
from pathlib import Path
from typing import Any

from uaipack import UserError

FLOAT_TOLERANCE = 1e-4


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str
    body_path: Path
    expected_path: Path

    @property
    def body(self) -> bytes:
        return self.body_path.read_bytes()

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.body_path.name)[0] or "application/octet-stream"

    def mismatch(self, answer: bytes | str) -> str | None:
        """None when the answer is the expected one, else a short description of the difference."""
        if isinstance(answer, str):
            answer = answer.encode()
        expected = self.expected_path.read_bytes()
        if self.expected_path.name.endswith(".expected.json"):
            try:
                got = json.loads(answer)
            except ValueError:
                return f"answer is not JSON: {_shorten(answer)}"
            return (
                None
                if json_close(got, json.loads(expected))
                else f"expected {_shorten(expected)}, got {_shorten(answer)}"
            )
        # One trailing newline is ignored on both sides: editors add one, UAI's answers end with one ("2\n").
        expected, answer = expected.removesuffix(b"\n"), answer.removesuffix(b"\n")
        return None if answer == expected else f"expected {_shorten(expected)}, got {_shorten(answer)}"


def find_samples(samples_dir: Path) -> list[Sample]:
    """Every sample in the folder, sorted by name; a body without an expected answer is an error."""
    samples = []
    bodies = sorted(
        path
        for path in samples_dir.glob("*")
        if path.is_file()
        and ".expected" not in path.name
        and not path.name.startswith(".")
        and path.name != "README.md"
    )
    for body in bodies:
        stem = body.name.split(".", 1)[0]
        candidates = [samples_dir / f"{stem}.expected", samples_dir / f"{stem}.expected.json"]
        expected = next((path for path in candidates if path.is_file()), None)
        if expected is None:
            raise UserError(
                f"{body} has no expected answer; add samples/{stem}.expected (or .expected.json)."
            )
        samples.append(Sample(stem, body, expected))
    if not samples:
        raise UserError(f"{samples_dir} has no samples; add a request body and its <name>.expected answer.")
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


def _shorten(data: bytes, limit: int = 60) -> str:
    text = data.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")
