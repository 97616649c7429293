"""uai.examples: the helpers every stub's execute uses (one model call, per-request refusals)."""

import io
import json

import pytest
from uai.examples import answer_by_shape, answer_valid, json_array, refusal, shape_refusal


def bodies(*texts):
    return [io.BytesIO(text.encode()) for text in texts]


def test_a_refusal_is_a_uai_tuple_with_a_json_error():
    body, status, headers = refusal("no good")
    assert (json.loads(body), status, headers) == (
        {"error": "no good"},
        400,
        {"Content-Type": "application/json"},
    )


def test_json_array_takes_numeric_json_of_the_given_shape_only():
    [good, wrong_width, text, scalar, empty] = bodies("[1, 2]", "[1, 2, 3]", '"x"', "7", "[]")
    assert json_array(good, "float32", (2,)).tolist() == [1.0, 2.0]
    assert json_array(wrong_width, "float32", (2,)) is None
    assert json_array(text) is None and json_array(scalar) is None and json_array(empty) is None
    assert json_array(io.BytesIO(b"[[1], [2]]"), "float32", (None, 1)).shape == (2, 1)


def test_shape_refusal_shows_unknown_dimensions_as_any():
    assert "[any, 3]" in shape_refusal((None, 3))[0]


def test_answer_valid_calls_predict_once_with_valid_examples_in_order_and_refuses_the_rest():
    calls = []

    def predict(examples):
        calls.append(examples)
        return [f"saw {example}" for example in examples]

    answers = answer_valid(["a", "", "b", "c"], 3, lambda r: r or None, predict, "refused")
    assert calls == [["a", "b"]]
    assert answers == ["saw a", "refused", "saw b"]


def test_answer_valid_fails_loudly_when_predict_returns_the_wrong_count():
    with pytest.raises(ValueError):
        answer_valid(["a", "b"], 2, lambda r: r, lambda examples: ["one"], "refused")


class ShapeError(Exception):
    pass


def test_answer_by_shape_runs_one_call_per_shape_and_refuses_only_the_group_the_model_rejects():
    import numpy as np

    def predict(examples):
        if examples[0].shape == (3,):
            raise ShapeError("expected 2 features\nbut got 3")
        return [float(example.sum()) for example in examples]

    data = bodies("[1, 2]", "[1, 2, 3]", "oops", "[3, 4]")
    answers = answer_by_shape(data, 4, json_array, predict, "refused", (ShapeError,))
    assert answers[0] == 3.0 and answers[3] == 7.0 and answers[2] == "refused"
    body, status, _ = answers[1]
    assert status == 400 and "shape [3]" in body and "but got 3" in body
    assert np.isclose(answers[0], 3.0)
