"""Helpers for `execute`: read each request as one example, answer a batch with one model call
per shape.

Every stub of the template uses them, so the batching logic lives here once. A request is an
image (PNG, JPEG, BMP, GIF, WebP: by its magic bytes or content type; fitted to the model's
input by `uai.images`, answered UAI's way with the class index as text, `2\\n`, or as JSON
with `image_answer: json`) or a JSON array (one example nested to the model's input,
answered with the model's output as JSON). A body that cannot be read, for any reason,
gets a 400 of its own and the rest of the batch is answered normally.

    self.inputs = ModelInput.for_model(self, shape=model_input_shape)     # in load_model
    return self.inputs.answer(data[:batch_size], self.predict)          # in execute

No framework is imported here, and numpy only when a request is read (a pure-Python
service that only uses `refusal` needs no numpy).

Kept for projects baked before `ModelInput` (their `code/` stays as it was after `invoke
upgrade`, the server is new): `answer_valid`, `answer_by_shape` and `shape_refusal`, which
their stubs import, with the behaviour those stubs rely on; a body their `parse` cannot read,
for any reason, is refused alone there too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from uai import frameworks
from uai.images import FORMATS, ImageInput, NotAnImage, image_format, known_shape

if TYPE_CHECKING:
    import numpy as np

Shape = tuple[int | None, ...]


class Refused(ValueError):
    """A request the model cannot take; the message is its 400's error."""


def refusal(message: str, status: int = 400) -> tuple[str, int, dict[str, str]]:
    """A UAI `(body, status, headers)` answer holding a short JSON error."""
    return json.dumps({"error": message}), status, {"Content-Type": "application/json"}


def json_array(request: Any, dtype: Any = "float32", shape: Sequence[int | None] | None = None):
    """The body as a numpy array of `dtype`, or None when it is not a numeric JSON array (of
    `shape`, where a None dimension takes any size); any failure to read it is a None too."""
    import numpy as np

    try:
        array = np.asarray(json.loads(request.read()), dtype=dtype)
    except Exception:  # noqa: BLE001 - RecursionError (deeply nested), MemoryError, ValueError, ...
        return None
    if array.ndim == 0 or array.size == 0 or (shape is not None and not fits(array.shape, shape)):
        return None
    return array


def fits(actual: Sequence[int], wanted: Sequence[int | None]) -> bool:
    """True when `actual` has the rank of `wanted` and its size wherever `wanted` gives one."""
    return len(actual) == len(wanted) and all(
        want in (None, got) for want, got in zip(wanted, actual, strict=True)
    )


def shown(shape: Sequence[int | None]) -> str:
    """A shape for a message, unknown dimensions as `any`: [any, 28, 28, 1]."""
    return "[" + ", ".join("any" if dim is None else str(dim) for dim in shape) + "]"


@dataclasses.dataclass(frozen=True)
class Example:
    """One request read: the model's input for it, and whether it came as an image."""

    array: np.ndarray
    from_image: bool


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """How requests become one model's examples and its outputs become answers.

    `shape`: one example's shape without the batch dimension (None dimensions take any
    size); None when the model decides (TorchScript, Caffe nets reshape), which groups
    examples by shape instead. `image`: how an image becomes an example, or the sentence
    saying why this model takes none.
    """

    shape: Shape | None
    dtype: Any = "float32"
    image: ImageInput | str = "this model takes no images"
    image_answer: str = "class"

    @classmethod
    def for_model(
        cls,
        model: Any,
        shape: Sequence[int | None] | None,
        dtype: Any = "float32",
        image_shape: Sequence[int | None] | None = None,
        decoder: str = "pillow",
    ) -> ModelInput:
        """The input of a UAI model object: its conf section (`model.section`) and the registry's
        defaults for its framework give the image keys; images are fitted to `image_shape`,
        else to `shape`, else to the section's `input_shape` (TorchScript files do not say it)."""
        framework = frameworks.get(getattr(model, "model_type", "") or "")
        defaults = {key.name: key.default for key in framework.keys} if framework else {}
        conf = {**defaults, **(getattr(model, "section", None) or {})}
        fit_to = next(
            (item for item in (image_shape, shape, conf.get("input_shape")) if item is not None), None
        )
        if framework is not None and not framework.takes_images:
            image: ImageInput | str = f"a {framework.title} model takes no images"
        elif fit_to is None:
            image = "set input_shape in the conf section to take images"
        else:
            image = ImageInput.for_shape(fit_to, conf, decoder)
        known = None if shape is None else known_shape(shape)
        return cls(known, dtype, image, str(conf.get("image_answer") or "class"))

    def read(self, request: Any) -> Example:
        """One request as an example; raises Refused with the reason."""
        body = request.body if hasattr(request, "body") else request.read()
        if image_format(body, getattr(request, "content_type", "") or "") is not None:
            if isinstance(self.image, str):
                raise Refused(f"an image was sent, but {self.image}")
            try:
                return Example(self.image.example(body).astype(self.dtype, copy=False), True)
            except NotAnImage as error:
                raise Refused(str(error)) from None
        if hasattr(request, "seek"):
            request.seek(0)
        array = json_array(request, self.dtype, self.shape)
        if array is None:
            wanted = (
                "a JSON array of numbers"
                if self.shape is None
                else f"a JSON array of shape {shown(self.shape)}"
            )
            raise Refused(f"the body must be an image ({FORMATS}) or one example as {wanted}")
        return Example(array, False)

    def answer(
        self,
        data: Sequence[Any],
        predict: Callable[[np.ndarray], Sequence[Any]],
        model_errors: tuple[type[BaseException], ...] = (),
    ) -> list[Any]:
        """One answer per request, in order: `predict` runs once per shape on the stacked examples
        and returns one output per example; a group the model rejects with one of `model_errors`
        gets a 400 naming the shape and the reason, any other error fails the batch (500)."""
        import numpy as np

        answers: list[Any] = [None] * len(data)
        groups: dict[tuple[int, ...], list[tuple[int, Example]]] = {}
        for index, request in enumerate(data):
            try:
                example = self.read(request)
            except Exception as error:  # noqa: BLE001 - one unreadable body never fails the batch
                answers[index] = refusal(str(error) if isinstance(error, Refused) else _unreadable(error))
                continue
            groups.setdefault(example.array.shape, []).append((index, example))
        for shape, members in groups.items():
            try:
                outputs = predict(np.stack([example.array for _, example in members]))
            except model_errors as error:
                outputs = _rejected(shape, error, len(members))
            for (index, example), output in zip(members, outputs, strict=True):
                answers[index] = (
                    output if isinstance(output, tuple) else self._answer(output, example.from_image)
                )
        return answers

    def _answer(self, output: Any, from_image: bool) -> Any:
        """A JSON request gets the model's output as it is; an image its class (UAI's text) or JSON."""
        if not from_image:
            return output.tolist() if hasattr(output, "tolist") else output
        import numpy as np

        scores = np.asarray(output, dtype=np.float64).ravel()
        best = int(np.argmax(scores))
        return {"class": best, "scores": scores.tolist()} if self.image_answer == "json" else f"{best}\n"


def _unreadable(error: Exception) -> str:
    return f"the body cannot be read as an example ({type(error).__name__})"


def _rejected(shape: Sequence[int], error: BaseException, count: int) -> list[Any]:
    """The 400s of a group of `count` examples of `shape` the model rejected with `error`,
    naming the shape and the error's last line."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[-1][:200]
    return [refusal(f"the model cannot take an example of shape {list(shape)}: {reason}")] * count


# -- Kept for projects baked before ModelInput (their stubs import these names) ----------------


def shape_refusal(shape: Sequence[int | None]) -> tuple[str, int, dict[str, str]]:
    """The 400 for a body that is not one example of `shape` (None dimensions shown as any)."""
    return refusal(f"the body must be one example as a JSON array of shape {shown(shape)}")


def _parsed(data: Sequence[Any], batch_size: int, parse: Callable[[Any], Any]) -> list[Any]:
    """`parse` of every request, None for one it cannot read for any reason (RecursionError...)."""
    examples = []
    for request in data[:batch_size]:
        try:
            examples.append(parse(request))
        except Exception:  # noqa: BLE001 - one unreadable body never fails the batch
            examples.append(None)
    return examples


def answer_valid(
    data: Sequence[Any],
    batch_size: int,
    parse: Callable[[Any], Any],
    predict: Callable[[list[Any]], Sequence[Any]],
    refused: Any,
) -> list[Any]:
    """`parse` every request; call `predict` once with the valid examples, in order, which
    returns one answer per example. A request `parse` turns into None (or cannot parse) is
    answered `refused` (e.g. `refusal("...")`); the others get their own answers."""
    examples = _parsed(data, batch_size, parse)
    valid = [index for index, example in enumerate(examples) if example is not None]
    return _answer_groups(examples, refused, {(): valid} if valid else {}, predict)


def answer_by_shape(
    data: Sequence[Any],
    batch_size: int,
    parse: Callable[[Any], Any],
    predict: Callable[[list[Any]], Sequence[Any]],
    refused: Any,
    model_errors: tuple[type[BaseException], ...],
) -> list[Any]:
    """Like `answer_valid`, for models whose input shape the files do not tell: examples are
    grouped by shape, one `predict` call per group; a group the model rejects with one of
    `model_errors` gets a 400 naming the shape and the reason."""
    examples = _parsed(data, batch_size, parse)
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, example in enumerate(examples):
        if example is not None:
            groups.setdefault(tuple(example.shape), []).append(index)
    return _answer_groups(examples, refused, groups, predict, model_errors)


def _answer_groups(
    examples: list[Any],
    refused: Any,
    groups: dict[tuple[int, ...], list[int]],
    predict: Callable[[list[Any]], Sequence[Any]],
    model_errors: tuple[type[BaseException], ...] = (),
) -> list[Any]:
    """One `predict` call per group of example indexes; what no group holds is answered
    `refused`, a group the model rejects with one of `model_errors` a 400 naming its shape."""
    answers = [refused] * len(examples)
    for shape, indexes in groups.items():
        try:
            outputs = predict([examples[index] for index in indexes])
        except model_errors as error:
            outputs = _rejected(shape, error, len(indexes))
        for index, output in zip(indexes, outputs, strict=True):
            answers[index] = output
    return answers
