"""`invoke upgrade` in a baked project, against a template repository made here with two commits:
this checkout's files, then a newer runtime (version, smoke test, tasks, Dockerfile template, a
line of invoke.yaml, the stub, a sample, requirements.txt). Projects are baked from the first,
the user edits the stub, a sample and an invoke.yaml value, and the template moves on."""

from __future__ import annotations

import contextlib
import dataclasses
import filecmp
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest
from bakery import ROOT

# One template repository and its projects per run: under xdist, on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("upgrade")]
INVOKE = Path(sys.executable).with_name("invoke")
COOKIECUTTER = Path(sys.executable).with_name("cookiecutter")
SLUG = "{{cookiecutter.project_slug}}"
RUNTIME = ("server", "uaipack", "tasks.py", "uaiservice.Dockerfile.j2")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "upgrade test",
    "GIT_AUTHOR_EMAIL": "upgrade@test.invalid",
    "GIT_COMMITTER_NAME": "upgrade test",
    "GIT_COMMITTER_EMAIL": "upgrade@test.invalid",
}
FIRST_LINE = "# Settings of this model service project, read by `invoke` (tasks.py)."
NEWER_FIRST_LINE = "# Settings of this model service project (newer template), read by `invoke` (tasks.py)."
USERS_STUB_LINE = "# the user's own change, made after baking\n"
USERS_SAMPLE = "[0.0, 0.2, 0.8]\n"


def run(folder: Path, *command: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("INVOKE_")}
    result = subprocess.run(
        [str(part) for part in command],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**environment, **GIT_IDENTITY, "COLUMNS": "200", **env},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} failed in {folder}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def commit_all(folder: Path, message: str) -> str:
    run(folder, "git", "add", "-A")
    run(folder, "git", "commit", "-q", "-m", message)
    return run(folder, "git", "rev-parse", "HEAD").stdout.strip()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer holds {old!r}: update this test's template change"
    path.write_text(text.replace(old, new, 1))


def newer_runtime(template: Path) -> None:
    """The second commit's changes: runtime files, and template copies of the user's files."""
    project = template / SLUG
    edit(project / "server/httpserver/version.py", 'VERSION = "', 'VERSION = "9.9.9+newer-')
    edit(
        project / "uaipack/smoke.py",
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\n# newer runtime\n",
    )
    edit(project / "tasks.py", "Thin on purpose:", "Thin on purpose (newer template):")
    edit(
        project / "uaiservice.Dockerfile.j2",
        "# ---- the service ----",
        "# ---- the service (newer template) ----",
    )
    edit(project / "invoke.yaml", FIRST_LINE, NEWER_FIRST_LINE)
    (project / "code/_stubs/self.py").write_text(
        (project / "code/_stubs/self.py").read_text() + "# newer stub\n"
    )
    (project / "_frameworks/self/samples/two.json").write_text("[0.1, 0.1, 0.8]\n")
    (project / "requirements.txt").write_text(
        (project / "requirements.txt").read_text() + "# newer template\n"
    )


@dataclasses.dataclass
class Scenario:
    template: Path
    old: str
    new: str
    answers: dict[str, str]
    projects: dict[str, Path]


def bake(template: Path, output: Path, answers: dict[str, str]) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    run(
        output.parent,
        COOKIECUTTER,
        template,
        "--no-input",
        "-o",
        output,
        *(f"{k}={v}" for k, v in answers.items()),
    )
    (project,) = output.iterdir()
    run(project, "git", "init", "-q")
    commit_all(project, "baked")
    return project


def users_edits(project: Path) -> None:
    stub = project / "code" / "mnist_inference.py"
    stub.write_text(stub.read_text() + USERS_STUB_LINE)
    (project / "samples" / "two.json").write_text(USERS_SAMPLE)
    edit(project / "invoke.yaml", "startup_timeout_s: 120 ", "startup_timeout_s: 90  ")
    commit_all(project, "the user's edits")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    """A template repo (old commit), three projects baked from it, then the template's newer commit."""
    work = tmp_path_factory.mktemp("upgrade")
    template = work / "uaipack-template"
    files = run(ROOT, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout.split(
        "\0"
    )
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (template / name).parent.mkdir(parents=True, exist_ok=True)
            (template / name).write_bytes((ROOT / name).read_bytes())
    run(template, "git", "init", "-q")
    old = commit_all(template, "the older template")
    answers = {
        "registry": "127.0.0.1:5999",
        "namespace": "upgrade",
        "image_name": f"upgraded:{uuid.uuid4().hex[:8]}",
    }
    projects = {
        name: bake(template, work / name / "out", answers) for name in ("main", "clash", "dirty", "legacy")
    }
    users_edits(projects["main"])
    edit(projects["clash"] / "invoke.yaml", FIRST_LINE, "# My own first line.")
    commit_all(projects["clash"], "the user's first line")
    newer_runtime(template)
    return Scenario(template, old, commit_all(template, "the newer template"), answers, projects)


@pytest.fixture(scope="module")
def upgraded(scenario) -> dict[str, subprocess.CompletedProcess]:
    """The main project: check (behind), upgrade, check (current)."""
    project = scenario.projects["main"]
    return {
        "check before": run(project, INVOKE, "upgrade", "--check", check=False),
        "upgrade": run(project, INVOKE, "upgrade", check=False),
        "check after": run(project, INVOKE, "upgrade", "--check", check=False),
    }


def test_a_bake_records_the_template_and_its_commit_where_cruft_reads_them(scenario):
    state = json.loads((scenario.projects["dirty"] / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(scenario.template), scenario.old)
    assert state["context"]["cookiecutter"]["namespace"] == "upgrade"
    assert {"code", "samples", "tests", "requirements.txt"} <= set(state["skip"])
    assert (scenario.projects["dirty"] / "server" / "RUNTIME_COMMIT").read_text().strip() == scenario.old


def test_a_template_named_by_a_relative_path_is_recorded_by_its_absolute_one(scenario, tmp_path):
    run(scenario.template.parent, COOKIECUTTER, scenario.template.name, "--no-input", "-o", tmp_path)
    state = json.loads((tmp_path / "mnist-inference" / ".cruft.json").read_text())
    assert state["template"] == str(scenario.template.resolve())


def test_a_template_that_is_not_a_git_checkout_bakes_with_an_unknown_commit(scenario, tmp_path):
    copy = tmp_path / "copy"
    run(tmp_path, "git", "clone", "-q", scenario.template, copy)
    run(copy, "rm", "-rf", ".git")
    result = run(tmp_path, COOKIECUTTER, copy, "--no-input", "-o", tmp_path / "out")
    assert "`invoke upgrade` cannot follow it" in result.stdout
    project = tmp_path / "out" / "mnist-inference"
    assert (project / "server" / "RUNTIME_COMMIT").read_text() == "unknown\n"
    assert not (project / ".cruft.json").exists()


def test_link_finds_the_commit_an_unrecorded_project_was_baked_from_and_its_answers(scenario):
    from uaipack import upgrade

    project = scenario.projects["legacy"]
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    (project / ".cruft.json").unlink()  # as baked before bakes recorded their origin
    (project / "server" / "RUNTIME_COMMIT").unlink()
    origin, matches = upgrade.link(project, scenario.template)
    assert (origin.location, origin.commit, matches) == (str(scenario.template), scenario.old, [scenario.old])
    linked = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert {key: linked[key] for key in linked if not key.startswith("_")} == {
        key: value for key, value in recorded.items() if not key.startswith("_")
    }


def test_check_fails_while_behind_and_passes_once_upgraded(upgraded):
    assert upgraded["check before"].returncode == 1
    assert "this project is behind its template" in upgraded["check before"].stderr
    assert upgraded["upgrade"].returncode == 0, upgraded["upgrade"].stdout + upgraded["upgrade"].stderr
    assert upgraded["check after"].returncode == 0, upgraded["check after"].stderr
    assert "current" in upgraded["check after"].stdout


def test_the_upgrade_says_from_which_version_to_which_and_what_changed(upgraded, scenario):
    said = upgraded["upgrade"].stdout
    assert f"upgraded from commit {scenario.old[:12]}" in said and "runtime 9.9.9+newer-" in said
    assert "server/httpserver/version.py" in said and "Baked" not in said  # the hooks' lines held back


def test_the_runtime_files_equal_the_newer_templates(upgraded, scenario, tmp_path):
    fresh = bake(scenario.template, tmp_path / "fresh", scenario.answers)
    project = scenario.projects["main"]
    for name in RUNTIME:
        assert not differences(project / name, fresh / name), name
    assert json.loads((project / ".cruft.json").read_text())["commit"] == scenario.new


def test_the_users_stub_sample_and_invoke_yaml_value_are_kept(upgraded, scenario):
    project = scenario.projects["main"]
    assert (project / "code" / "mnist_inference.py").read_text().endswith(USERS_STUB_LINE)
    assert "# newer stub" not in (project / "code" / "mnist_inference.py").read_text()
    assert (project / "samples" / "two.json").read_text() == USERS_SAMPLE
    assert "# newer template" not in (project / "requirements.txt").read_text()
    settings = (project / "invoke.yaml").read_text()
    assert "startup_timeout_s: 90 " in settings and settings.startswith(NEWER_FIRST_LINE)  # kept and merged


@pytest.mark.docker
def test_the_upgraded_project_passes_its_own_tests_and_a_container_smoke_test(
    upgraded, scenario, docker_client, base_image
):
    project, local_base = scenario.projects["main"], {"INVOKE_UAI_BASE_IMAGE": base_image}
    assert "Ran 2 tests" in run(project, INVOKE, "test").stderr
    reference = f"127.0.0.1:5999/upgrade/{scenario.answers['image_name']}"
    try:
        run(project, INVOKE, "build", **local_base)
        assert "smoke test passed" in run(project, INVOKE, "smoke-test", **local_base).stdout
        labels = docker_client.images.get(reference).labels
        assert labels["ai.uaipack.runtime.commit"] == scenario.new
        assert labels["ai.uaipack.runtime.version"].startswith("9.9.9+newer-")
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):  # not built: nothing to remove
            docker_client.images.remove(reference, force=True, noprune=True)


def test_a_line_both_sides_changed_is_left_as_a_conflict_and_the_upgrade_fails_naming_it(scenario):
    project = scenario.projects["clash"]
    result = run(project, INVOKE, "upgrade", check=False)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: the upgrade left 1 conflict(s) to resolve by hand: invoke.yaml;")
    )
    settings = (project / "invoke.yaml").read_text()
    assert "<<<<<<<" in settings and "# My own first line." in settings and NEWER_FIRST_LINE in settings
    assert (project / "server" / "RUNTIME_COMMIT").read_text().strip() == scenario.new  # the rest applied


def test_an_upgrade_refuses_a_tree_with_uncommitted_changes_and_changes_nothing(scenario):
    project = scenario.projects["dirty"]
    (project / "tasks.py").write_text((project / "tasks.py").read_text() + "# not committed\n")
    result = run(project, INVOKE, "upgrade", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: commit or stash your changes first (see `git status`): an upgrade starts from a clean tree."
    )
    assert run(project, "git", "status", "--porcelain").stdout.strip() == "M tasks.py"


def test_check_against_a_local_clone_works_offline_with_template(scenario, tmp_path):
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", scenario.template, clone)
    run(clone, "git", "reset", "-q", "--hard", scenario.old)
    project = scenario.projects["dirty"]
    assert run(project, INVOKE, "upgrade", "--check", "--template", clone, check=False).returncode == 0
    assert run(project, INVOKE, "upgrade", "--check", check=False).returncode == 1


def differences(left: Path, right: Path) -> list[str]:
    """Paths under two files or folders that differ (caches aside)."""
    if left.is_file() or right.is_file():
        return [] if filecmp.cmp(left, right, shallow=False) else [str(left)]
    comparison = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [*comparison.left_only, *comparison.right_only, *comparison.diff_files, *comparison.funny_files]
    for name in comparison.common_dirs:
        found += differences(left / name, right / name)
    return found


def test_a_project_baked_before_the_runtime_had_a_version_is_called_unversioned(tmp_path):
    """Projects baked before 0.8.0 have no server/httpserver/version.py: the upgrade reports
    them as unversioned instead of failing on the missing file."""
    from uaipack.upgrade import runtime_version

    assert runtime_version(tmp_path) == "unversioned"
    (tmp_path / "server/httpserver").mkdir(parents=True)
    (tmp_path / "server/httpserver/version.py").write_text('VERSION = "1.2.3"\n')
    assert runtime_version(tmp_path) == "1.2.3"
