"""Helpers for `execute`: read each request as one example, answer a batch with one model call.

Every stub of the template uses them, so the batching logic lives here once: a request the
model cannot take gets a 400 of its own, and the rest of the batch is answered normally.
No framework is imported; numpy is imported only when `json_array` runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any


def refusal(message: str, status: int = 400) -> tuple[str, int, dict[str, str]]:
    """A UAI `(body, status, headers)` answer holding a short JSON error."""
    return json.dumps({"error": message}), status, {"Content-Type": "application/json"}


def json_array(request: Any, dtype: Any = "float32", shape: Sequence[int | None] | None = None):
    """The body as a numpy array of `dtype`, or None when it is not a numeric JSON array.

    With `shape`, the array must have exactly that shape; a None dimension takes any size.
    """
    import numpy as np

    try:
        array = np.asarray(json.loads(request.read()), dtype=dtype)
    except (ValueError, TypeError):
        return None
    if array.ndim == 0 or array.size == 0:
        return None
    if shape is not None and (
        array.ndim != len(shape)
        or any(want not in (None, got) for want, got in zip(shape, array.shape, strict=True))
    ):
        return None
    return array


def shape_refusal(shape: Sequence[int | None]) -> tuple[str, int, dict[str, str]]:
    """The 400 for a body that is not one example of `shape` (None dimensions shown as any)."""
    shown = "[" + ", ".join("any" if dim is None else str(dim) for dim in shape) + "]"
    return refusal(f"the body must be one example as a JSON array of shape {shown}")


def answer_valid(
    data: Sequence[Any],
    batch_size: int,
    parse: Callable[[Any], Any],
    predict: Callable[[list[Any]], Sequence[Any]],
    refused: Any,
) -> list[Any]:
    """`parse` every request; call `predict` once with the valid examples, in order.

    `predict` returns one answer per example. A request `parse` turns into None is
    answered `refused` (e.g. `refusal("...")`); the others get their own answers.
    """
    examples = [parse(request) for request in data[:batch_size]]
    valid = [index for index, example in enumerate(examples) if example is not None]
    answers = [refused] * batch_size
    if valid:
        outputs = predict([examples[index] for index in valid])
        for index, output in zip(valid, outputs, strict=True):
            answers[index] = output
    return answers


def answer_by_shape(
    data: Sequence[Any],
    batch_size: int,
    parse: Callable[[Any], Any],
    predict: Callable[[list[Any]], Sequence[Any]],
    refused: Any,
    model_errors: tuple[type[BaseException], ...],
) -> list[Any]:
    """Like `answer_valid`, for models whose input shape the files do not tell.

    Examples are grouped by shape and each group goes through one `predict` call; a group
    the model rejects with one of `model_errors` gets a 400 naming the shape and the reason.
    """
    examples = [parse(request) for request in data[:batch_size]]
    answers = [refused] * batch_size
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, example in enumerate(examples):
        if example is not None:
            groups.setdefault(tuple(example.shape), []).append(index)
    for shape, indexes in groups.items():
        try:
            outputs = predict([examples[index] for index in indexes])
        except model_errors as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[-1][:200]
            outputs = [refusal(f"the model cannot take an example of shape {list(shape)}: {reason}")]
            outputs *= len(indexes)
        for index, output in zip(indexes, outputs, strict=True):
            answers[index] = output
    return answers
