"""Every failure a user will meet, against the real engine and registry: each asserted on its
message (one line naming the fix) and on nothing being lost or left behind."""

from __future__ import annotations

import signal
import subprocess
import time

from e2e.support import PASSWORD, USERNAME

RAISING_LOAD = """
    def load_model(self):
        raise RuntimeError("weights file is corrupt: checkpoint_dir/broken.bin")
"""
SLOW_LOAD = """
    def load_model(self):
        import time
        time.sleep(120)
"""


def last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def replace_load_model(project, new_method: str) -> None:
    stub = project / "code" / "mnist_inference.py"
    text = stub.read_text()
    start = text.index("    def load_model(self):")
    end = text.index("    def execute(")
    stub.write_text(text[:start] + new_method.lstrip("\n") + "\n" + text[end:])


def test_a_missing_model_file_fails_conf_naming_the_files_before_any_build(
    project_copy, run_invoke, docker_client
):
    result = run_invoke(
        project_copy, "build", INVOKE_UAI_FRAMEWORK="keras", INVOKE_UAI_IMAGE_NAME="nofile:v1"
    )
    assert result.returncode == 1
    assert (
        "http_server.keras names checkpoint_dir/mnist_model.json, checkpoint_dir/mnist_model.h5"
        in last_line(result)
    )
    assert "put the model files there" in last_line(result)
    assert "step 1/" not in result.stdout
    assert not docker_client.images.list(name="*/e2e/nofile")


def test_a_conf_naming_a_missing_module_fails_before_any_build(project_copy, run_invoke):
    result = run_invoke(project_copy, "build", INVOKE_UAI_MAIN_FILE="no_such_module")
    assert result.returncode == 1
    assert "main_file 'no_such_module' names no module" in last_line(result)
    assert "step 1/" not in result.stdout and "Traceback" not in result.stderr


def test_a_conf_naming_a_missing_class_fails_before_any_build(project_copy, run_invoke):
    result = run_invoke(project_copy, "build", INVOKE_UAI_MAIN_CLASS="NoSuchModel")
    assert result.returncode == 1
    assert "main_class 'NoSuchModel' is not defined" in last_line(result)
    assert "step 1/" not in result.stdout


def test_an_unknown_base_image_says_how_to_get_it(project_copy, run_invoke):
    result = run_invoke(project_copy, "build", INVOKE_UAI_BASE_IMAGE="localhost/nowhere/python:0")
    assert result.returncode == 1
    assert last_line(result) == (
        "error: the base image localhost/nowhere/python:0 is not on this Docker engine; pull it "
        "(`docker pull localhost/nowhere/python:0`) or build the local one with `invoke base-image` "
        "and set uai.base_image to it."
    )


def test_a_load_model_that_raises_fails_the_smoke_test_showing_the_log_line(
    project_copy, run_invoke, made_images, smoke_containers, reference_of
):
    replace_load_model(project_copy, RAISING_LOAD)
    env = {"INVOKE_UAI_IMAGE_NAME": "raising:v1"}
    made_images.add(reference_of(project_copy, "raising:v1"))
    build = run_invoke(project_copy, "build", **env)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr
    result = run_invoke(project_copy, "smoke-test", **env)
    assert result.returncode == 1
    assert "weights file is corrupt: checkpoint_dir/broken.bin" in result.stdout  # the container's log
    assert "before it was ready" in last_line(result)
    assert smoke_containers() == []


def test_a_sample_whose_answer_differs_fails_the_smoke_test_and_names_it(
    pushed, project_copy, run_invoke, smoke_containers
):
    (project_copy / "samples" / "two.expected").write_text("1")
    result = run_invoke(project_copy, "smoke-test")
    assert result.returncode == 1
    assert "FAIL: expected '1', got '2'" in result.stdout
    assert "last 40 lines of the container's log" in result.stdout
    assert "the smoke test failed 1 of 8 checks (two)" in last_line(result)
    assert smoke_containers() == []


def test_a_wrong_password_pushes_nothing_and_is_in_no_output(
    pushed, project_copy, run_invoke, registry, docker_client, reference_of, made_images
):
    wrong = "wrong-" + PASSWORD[::-1]
    reference = reference_of(project_copy).rsplit(":", 1)[0] + ":wrong-password"
    docker_client.images.get(reference_of(project_copy)).tag(reference)
    made_images.add(reference)
    result = run_invoke(
        project_copy,
        "push",
        "--skip-checks",
        INVOKE_UAI_IMAGE_NAME=reference.split("/")[-1],
        UHUB_USERNAME=USERNAME,
        UHUB_PASSWORD=wrong,
    )
    assert result.returncode == 1
    assert f"the registry {registry.address} refused the login of '{USERNAME}'" in last_line(result)
    assert "check the user name and UHUB_PASSWORD" in last_line(result)
    assert wrong not in result.stdout + result.stderr
    assert not registry.has_manifest(reference.split("/", 1)[1].rsplit(":", 1)[0], "wrong-password")


def test_an_interrupted_smoke_test_leaves_no_container(
    project_copy, run_invoke, made_images, smoke_containers, reference_of
):
    replace_load_model(project_copy, SLOW_LOAD)
    env = {"INVOKE_UAI_IMAGE_NAME": "slow:v1"}
    made_images.add(reference_of(project_copy, "slow:v1"))
    assert run_invoke(project_copy, "build", **env).returncode == 0
    for interrupt in (signal.SIGINT, signal.SIGTERM):
        process = subprocess.Popen(
            run_invoke.command("smoke-test"),
            cwd=project_copy,
            env={**run_invoke.environment(**env), "PYTHONFAULTHANDLER": "1"},
            # A shell that starts a job in the background ignores SIGINT for it, and children
            # inherit that; the smoke test must start with Ctrl-C live, as in a terminal.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not smoke_containers() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert smoke_containers(), "the smoke test never started its container"
            process.send_signal(interrupt)
            output = process.communicate(timeout=60)[0]
        finally:
            if process.poll() is None:  # hung: SIGABRT makes faulthandler print every thread's stack
                process.send_signal(signal.SIGABRT)
                print(process.communicate(timeout=30)[0])  # shown with the failure
        assert process.returncode != 0, output
        assert smoke_containers() == [], f"a container was left after {interrupt.name}"
