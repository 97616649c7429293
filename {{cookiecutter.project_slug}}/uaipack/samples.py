"""Samples: request bodies in samples/ with their expected answers, for the tools.

`samples/<name>.<ext>` is a body (content type from the extension); beside it
`<name>.expected` is the exact expected body (one trailing newline ignored, on both sides) or
`<name>.expected.json`, compared as JSON with a relative float tolerance of 1e-4.
Used by `invoke smoke-test` (over HTTP) and by the project's unit tests (in process).
The rules live in the server's `httpserver.samples` (the image's console uses them too);
here a folder without samples, or a body without its answer, is a UserError.
"""

from __future__ import annotations

from pathlib import Path

from uaipack import UserError, server_module

_rules = server_module("httpserver.samples")  # imports no Django
FLOAT_TOLERANCE, Sample, json_close = _rules.FLOAT_TOLERANCE, _rules.Sample, _rules.json_close

__all__ = ["FLOAT_TOLERANCE", "Sample", "find_samples", "json_close"]


def find_samples(samples_dir: Path) -> list[Sample]:
    """Every sample in the folder, sorted by name; a body without an expected answer is an error."""
    samples = _rules.find_samples(samples_dir)
    for sample in samples:
        if sample.expected_path is None:
            raise UserError(
                f"{sample.body_path} has no expected answer; "
                f"add samples/{sample.name}.expected (or .expected.json)."
            )
    if not samples:
        raise UserError(f"{samples_dir} has no samples; add a request body and its <name>.expected answer.")
    return samples
