"""Samples: bodies beside their expected answers, compared exactly or as JSON within 1e-4."""

import pytest
from uaipack import UserError
from uaipack.samples import find_samples


def test_an_exact_answer_ignores_one_trailing_newline_in_the_expected_file(tmp_path):
    (tmp_path / "two.json").write_text("[0, 1]")
    (tmp_path / "two.expected").write_text("2\n")
    [sample] = find_samples(tmp_path)
    assert sample.content_type == "application/json"
    assert sample.mismatch(b"2") is None
    assert sample.mismatch(b"20") == "expected '2', got '20'"


def test_a_json_answer_matches_within_the_relative_tolerance(tmp_path):
    (tmp_path / "scores.bin").write_bytes(b"\x00")
    (tmp_path / "scores.expected.json").write_text('{"p": [0.5, 0.25]}')
    [sample] = find_samples(tmp_path)
    assert sample.mismatch(b'{"p": [0.500001, 0.25]}') is None
    assert sample.mismatch(b'{"p": [0.51, 0.25]}') is not None
    assert sample.mismatch(b"not json").startswith("answer is not JSON")


def test_a_body_without_an_expected_answer_names_the_file_to_add(tmp_path):
    (tmp_path / "lonely.json").write_text("[]")
    with pytest.raises(UserError, match=r"add samples/lonely.expected"):
        find_samples(tmp_path)


def test_an_empty_samples_folder_is_an_error(tmp_path):
    with pytest.raises(UserError, match="has no samples"):
        find_samples(tmp_path)
