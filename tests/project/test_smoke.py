"""The smoke test's checks without an engine: what they do when the server cannot be reached,
and where the body limit they probe comes from."""

from types import SimpleNamespace

import pytest
from uaipack import smoke
from uaipack.build import BODY_LIMIT_LABEL
from uaipack.registry import free_port
from uaipack.settings import SERVER_DEFAULTS


@pytest.mark.parametrize(
    "check",
    [smoke.check_initialized, smoke.check_malformed, smoke.check_still_ready],
    ids=lambda c: c.__name__,
)
def test_every_check_reports_a_server_that_does_not_answer_as_a_failure_not_a_traceback(check):
    result = check(f"http://127.0.0.1:{free_port()}")
    assert not result.passed and result.status == "-"


def test_the_oversized_check_reports_a_server_that_does_not_answer_as_a_failure():
    result = smoke.check_oversized(f"http://127.0.0.1:{free_port()}", 10)
    assert not result.passed and "no clean answer" in result.problem


def test_the_body_limit_probed_is_the_one_the_image_was_built_with():
    image = SimpleNamespace(labels={BODY_LIMIT_LABEL: "1024"})
    assert smoke.body_limit(image) == 1024


def test_an_image_without_the_label_is_probed_at_the_servers_default_limit():
    assert smoke.body_limit(SimpleNamespace(labels={})) == SERVER_DEFAULTS["max_body_bytes"]
    assert smoke.body_limit(SimpleNamespace(labels=None)) == SERVER_DEFAULTS["max_body_bytes"]
