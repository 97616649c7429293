"""push: the password's sources, the stream checks, bounded retries, and no password in messages."""

import io

import pytest
from uaipack import UserError, pipeline, push


class FakeApi:
    def __init__(self, chunks):
        self.chunks = chunks

    def push(self, repository, tag, stream, decode):
        return iter(self.chunks)


class FakeClient:
    def __init__(self, chunks):
        self.api = FakeApi(chunks)


def use_stream(monkeypatch, chunks):
    monkeypatch.setattr(push.engine, "client", lambda: FakeClient(chunks))


def test_the_password_comes_from_stdin_before_the_environment(monkeypatch):
    monkeypatch.setenv("UHUB_PASSWORD", "from-env")
    assert push.read_password(True, io.StringIO("from-stdin\n")) == "from-stdin"
    assert push.read_password(False, io.StringIO("")) == "from-env"
    monkeypatch.delenv("UHUB_PASSWORD")
    assert push.read_password(False, io.StringIO("")) is None


def test_an_empty_password_on_stdin_is_refused():
    with pytest.raises(UserError, match="empty line"):
        push.read_password(True, io.StringIO("\n"))


def test_a_password_flag_is_refused_with_the_reason_and_the_alternatives():
    with pytest.raises(
        UserError, match=r"process list|visible.*UHUB_PASSWORD.*--password-stdin.*docker login"
    ):
        pipeline.refuse_password_flag("hunter2")
    pipeline.refuse_password_flag(None)


def test_a_stream_reports_layers_bytes_and_the_digest(monkeypatch):
    use_stream(
        monkeypatch,
        [
            {"status": "Pushing", "id": "aaa", "progressDetail": {"current": 50, "total": 100}},
            {"status": "Pushed", "id": "aaa"},
            {"status": "Layer already exists", "id": "bbb"},
            {"status": "v1: digest: sha256:abc size: 1"},
            {"aux": {"Tag": "v1", "Digest": "sha256:abc", "Size": 1}},
        ],
    )
    assert push.stream_push("r:1/ns/img:v1", None) == ("sha256:abc", 1, 1, 100)


def test_an_error_inside_the_stream_fails_the_push_without_echoing_the_password(monkeypatch):
    use_stream(
        monkeypatch,
        [
            {"status": "Preparing", "id": "aaa"},
            {"errorDetail": {"message": "denied: hunter2 not allowed"}, "error": "denied"},
        ],
    )
    with pytest.raises(push.PushFailed) as failure:
        push.stream_push("r:1/ns/img:v1", "hunter2")
    assert "hunter2" not in str(failure.value) and "***" in str(failure.value)
    assert not failure.value.transient


def test_transient_failures_are_retried_a_bounded_number_of_times(monkeypatch):
    calls = []

    def flaky(reference, password):
        calls.append(reference)
        raise push.PushFailed("connection reset by peer", transient=True)

    monkeypatch.setattr(push, "stream_push", flaky)
    monkeypatch.setattr(push.engine, "image_exists", lambda reference: True)
    monkeypatch.setattr(push.time, "sleep", lambda seconds: None)
    with pytest.raises(push.PushFailed, match="connection reset"):
        push.push_image("r:1/ns/img:v1", attempts=3)
    assert len(calls) == 3


def test_zero_attempts_is_refused_in_one_line_before_anything_is_sent(monkeypatch):
    monkeypatch.setattr(push, "stream_push", lambda *args: pytest.fail("pushed"))
    with pytest.raises(UserError, match="push_attempts is 0; it must be at least 1"):
        push.push_image("r:1/ns/img:v1", attempts=0)


def test_an_authorization_error_is_not_retried():
    assert not push._is_transient("unauthorized: authentication required")
    assert push._is_transient("Put http://r/v2/x: read tcp: connection reset by peer")


def test_a_reference_splits_into_repository_and_tag_even_with_a_registry_port():
    assert push.split_reference("127.0.0.1:5000/ns/img:v1") == ("127.0.0.1:5000/ns/img", "v1")
    assert push.split_reference("127.0.0.1:5000/ns/img") == ("127.0.0.1:5000/ns/img", "latest")


class RefusingClient:
    def __init__(self, explanation):
        self.explanation = explanation

    def login(self, **credentials):
        import docker

        raise docker.errors.APIError("login failed", explanation=self.explanation)


@pytest.mark.parametrize(
    ("explanation", "says"),
    [
        (
            'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
            "cannot be reached",
        ),
        ("unauthorized: incorrect username or password s3cret", "refused the login of 'me'"),
    ],
)
def test_a_failed_login_says_whether_the_registry_was_unreachable_or_refused(monkeypatch, explanation, says):
    monkeypatch.setattr(push.engine, "client", lambda: RefusingClient(explanation))
    with pytest.raises(UserError) as raised:
        push.login("127.0.0.1:1", "me", "s3cret")
    assert says in str(raised.value)
    assert "s3cret" not in str(raised.value) and "\n" not in str(raised.value)
