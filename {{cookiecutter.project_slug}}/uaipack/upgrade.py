"""`invoke upgrade`: bring the template's later changes into this project, through cruft.

At bake time the template's hook calls `record_origin`: it writes cruft's own `.cruft.json`
(the template's location and commit, and the answers) and the runtime's commit in
`server/RUNTIME_COMMIT`. `invoke upgrade` then runs `cruft update`: it renders the template
at the recorded commit and at the newest one with the same answers and applies the
difference with git's three-way merge. So the runtime (server/, uaipack/, tasks.py, the
Dockerfile template) follows the template, the user's files (`USER_FILES`) are never
touched, and files both sides changed (invoke.yaml, the README, deploy/) are merged; a
clash is left as a conflict in the file (or a `.rej` file) and the task fails naming it,
never resolved silently. `invoke upgrade --check` fails while the template has newer commits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from uaipack import UserError, server_module
from uaipack.progress import say
from uaipack.settings import yes_no

STATE_FILE = ".cruft.json"
#: The user's own files: an upgrade never changes them, whatever the template did to its copies.
USER_FILES = ("code", "samples", "tests", "requirements.txt")
#: The runtime: an upgrade makes these the template's (and `link` recognises a bake by them).
RUNTIME = ("server", "uaipack", "tasks.py", "uaiservice.Dockerfile.j2")
#: Answers that name this machine's folders, not the project: not recorded.
_MACHINE_KEYS = ("_output_dir", "_repo_dir")


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a project came from: what `git clone` takes (a folder or a URL), and the commit."""

    location: str
    commit: str


def record_origin(project: Path, answers: Mapping[str, Any]) -> Origin | None:
    """At bake time: `server/RUNTIME_COMMIT` and `.cruft.json` (cruft's format, with USER_FILES
    as its `skip`). A template that is not a git checkout records the commit as unknown."""
    origin = template_origin(answers)
    commit_file = project / "server" / server_module("httpserver.version").COMMIT_FILE.name
    commit_file.write_text((origin.commit if origin else "unknown") + "\n", encoding="utf-8")
    if origin is None:
        print("note: the template is not a git checkout, so `invoke upgrade` cannot follow it.")
        return None
    write_state(project, origin, answers)
    return origin


def write_state(project: Path, origin: Origin, answers: Mapping[str, Any]) -> None:
    """`.cruft.json` as cruft writes it, plus the `skip` list that keeps the user's files out."""
    context = {key: value for key, value in answers.items() if key not in _MACHINE_KEYS}
    state = {
        "template": origin.location,
        "commit": origin.commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": {**context, "_template": origin.location, "_commit": origin.commit}},
        "directory": None,
        "skip": [*USER_FILES, STATE_FILE],  # the state is cruft's to rewrite, not a file to merge
    }
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    (project / STATE_FILE).write_text(text, encoding="utf-8")


def template_origin(answers: Mapping[str, Any]) -> Origin | None:
    """The template's location and commit, from cookiecutter's (or cruft's) private answers."""
    if answers.get("_commit"):  # cruft renders with both set
        return Origin(str(answers["_template"]), str(answers["_commit"]))
    folder = template_folder(answers)
    commit = _git(folder, "rev-parse", "HEAD") if folder else None
    if commit is None:
        return None
    cloned = str(answers.get("_template")) != str(
        answers.get("_repo_dir")
    )  # from a URL: cookiecutter's clone
    remote = _git(folder, "config", "--get", "remote.origin.url") if cloned else None
    return Origin(remote or str(folder), commit)


def template_folder(answers: Mapping[str, Any]) -> Path | None:
    """The template's folder. cookiecutter gives `_repo_dir` relative to where it was started
    (cookiecutter#1802) and runs hooks from that folder, so a relative one is the hook's parent's
    working directory (Linux), else relative to the shell's PWD."""
    repo_dir = Path(str(answers.get("_repo_dir") or "."))
    candidates = [repo_dir] if repo_dir.is_absolute() else []
    candidates += [Path(f"/proc/{os.getppid()}/cwd"), Path(os.environ.get("PWD", ".")) / repo_dir]
    for candidate in candidates:
        with contextlib.suppress(OSError):
            if (candidate / "cookiecutter.json").is_file():
                return candidate.resolve()
    return None


def link(project: Path, template: Path) -> tuple[Origin, list[str]]:
    """For a project baked before bakes recorded their origin: record the template commit whose
    runtime files it holds (the oldest, when several do: later changes are then merged, never
    lost), with answers read back from its invoke.yaml and README. Returns it and all matches."""
    if (project / STATE_FILE).is_file():
        raise UserError(f"{project / STATE_FILE} exists already: this project knows its template.")
    matches = commits_holding_runtime_of(project, template)
    if not matches:
        raise UserError(
            f"no commit of {template} holds the runtime files {project} has ({', '.join(RUNTIME)}); "
            "was it baked from this template, or were those files changed by hand?"
        )
    origin = Origin(str(template.resolve()), matches[0])
    write_state(project, origin, answers_of(project, template))
    return origin, matches


def commits_holding_runtime_of(project: Path, template: Path) -> list[str]:
    """The template's commits, oldest first, whose runtime files are exactly the project's."""
    files = sorted(
        path
        for name in RUNTIME
        for path in ([project / name] if (project / name).is_file() else (project / name).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.name != "RUNTIME_COMMIT"
    )
    names = [str(path.relative_to(project)) for path in files]
    hashed = subprocess.run(
        ["git", "hash-object", "--stdin-paths"],
        input="\n".join(map(str, files)),
        capture_output=True,
        text=True,
    ).stdout.split()
    wanted = dict(zip(names, hashed, strict=True))
    folder = template_folder_name(template)
    matches = []
    for commit in _lines(template, "rev-list", "--reverse", "HEAD"):
        listed = _lines(template, "ls-tree", "-r", commit, "--", *(f"{folder}/{name}" for name in RUNTIME))
        held = {line.split("\t", 1)[1].removeprefix(folder + "/"): line.split()[2] for line in listed}
        held.pop("server/RUNTIME_COMMIT", None)
        if held == wanted:
            matches.append(commit)
    return matches


def template_folder_name(template: Path) -> str:
    """The template's project folder (the one whose name is a Jinja expression), found by that."""
    found = [path.name for path in template.iterdir() if path.is_dir() and path.name.startswith("{{")]
    if len(found) != 1:
        raise UserError(f"{template} is not a cookiecutter template (no single {{{{...}}}} folder).")
    return found[0]


def answers_of(project: Path, template: Path) -> dict[str, str]:
    """The answers a project was baked with, as far as it still says them: its folder name, its
    README's title, and the `uai` settings of its invoke.yaml that carry an answer's name."""
    from invoke import Config

    config = Config(project_location=str(project))
    config.load_project()
    settings = dict(config.get("uai") or {})
    title = (
        (project / "README.md").read_text(encoding="utf-8").splitlines()[0]
        if (project / "README.md").is_file()
        else ""
    )
    answers = {"project_slug": project.name, "project_name": title.removeprefix("# ") or project.name}
    questions = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    for name in questions:
        if name in settings and not name.startswith("_"):
            answers[name] = str(settings[name])
    answers["model_dir"] = answers.get("model_dir", "checkpoint_dir").removeprefix("./")
    if "all_one_file" in settings:
        answers["all_one_file"] = "yes" if yes_no(settings["all_one_file"]) else "no"
    return answers


@dataclasses.dataclass(frozen=True)
class Upgraded:
    """What an upgrade did: from which commit and version to which, the files it changed."""

    commit_before: str
    commit_after: str
    version_before: str
    version_after: str
    changed: list[str]


def upgrade(project: Path, template: str | None = None, checkout: str | None = None) -> Upgraded:
    """`cruft update` on a clean git tree; a UserError naming every conflict it leaves."""
    require_clean_tree(project)
    before, version_before = read_state(project)["commit"], runtime_version(project)
    untracked_before = set(_lines(project, "ls-files", "--others", "--exclude-standard"))
    with _quiet_unless_failing() as output:
        applied = _cruft_update(project, template, checkout)
        conflicts = find_conflicts(project)
        output.failed = not applied or bool(conflicts)
    if not applied:
        raise UserError("cruft did not apply the upgrade (see its message above); nothing was changed.")
    if conflicts:
        raise UserError(
            f"the upgrade left {len(conflicts)} conflict(s) to resolve by hand: {', '.join(conflicts)}; "
            "edit out the <<<<<<< ======= >>>>>>> markers (or apply each .rej file and delete it), then "
            "`git add` and commit; `git reset --hard && git clean -fd` undoes the whole upgrade."
        )
    added = set(_lines(project, "ls-files", "--others", "--exclude-standard")) - untracked_before
    changed = sorted({*_lines(project, "diff", "--name-only", "--relative", "HEAD"), *added})
    return Upgraded(before, read_state(project)["commit"], version_before, runtime_version(project), changed)


def _cruft_update(project: Path, template: str | None, checkout: str | None) -> bool:
    cruft = _cruft()
    template_path = Path(template).expanduser().resolve() if template else None
    return cruft.update(
        project,
        template_path=template_path,
        checkout=checkout,
        skip_apply_ask=True,
        allow_untracked_files=True,
    )


@dataclasses.dataclass
class _Output:
    failed: bool = False


@contextlib.contextmanager
def _quiet_unless_failing() -> Iterator[_Output]:
    """Hold back what cruft and the template's hooks print on standard output (the hooks' next
    steps, twice) and show it only when the block sets `failed`: then it is the diagnosis."""
    outcome = _Output()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 1)
        try:
            yield outcome
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            if outcome.failed:
                held.seek(0)
                sys.stdout.write(held.read().decode("utf-8", "replace"))
                sys.stdout.flush()


def require_current(project: Path, template: str | None = None, checkout: str | None = None) -> str:
    """The recorded commit when the template has nothing newer (cruft check); else a UserError."""
    cruft = _cruft()
    state = read_state(project)
    with _state_following(project, state, template) as state_dir, contextlib.redirect_stdout(io.StringIO()):
        current = cruft.check(state_dir, checkout=checkout)
    if not current:
        followed = template or state["template"]
        raise UserError(
            f"this project is behind its template: it was baked (or last upgraded) from commit "
            f"{state['commit'][:12]} (runtime {runtime_version(project)}), and {followed} has newer "
            "commits; run `invoke upgrade`."
        )
    return state["commit"]


@contextlib.contextmanager
def _state_following(project: Path, state: Mapping[str, Any], template: str | None) -> Iterator[Path]:
    """The project itself, or (for --template) a scratch copy of its state naming that template."""
    if template is None:
        yield project
        return
    with tempfile.TemporaryDirectory(prefix="uaipack-upgrade-") as scratch:
        location = str(Path(template).expanduser().resolve())
        Path(scratch, STATE_FILE).write_text(json.dumps({**state, "template": location}), encoding="utf-8")
        yield Path(scratch)


def read_state(project: Path) -> dict[str, Any]:
    """The project's `.cruft.json`; a project baked before it was recorded gets the way to add it."""
    path = project / STATE_FILE
    if not path.is_file():
        raise UserError(
            f"{path} is missing, so the template this project came from is unknown; in a clone of the "
            f"template run `invoke link {project}` once (it finds the commit this project was baked from)."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(
            f"{path} is not valid JSON ({error}); restore it with `git checkout -- {STATE_FILE}`."
        ) from None


def require_clean_tree(project: Path) -> None:
    """An upgrade is applied to a clean git tree, so that `git diff` shows it and a reset undoes it."""
    if _git(project, "rev-parse", "--is-inside-work-tree") != "true":
        raise UserError(
            "this project is not a git repository; run `git init && git add -A && git commit -m baked` "
            "first, so that the upgrade can be reviewed with `git diff` and undone."
        )
    if _git(project, "status", "--porcelain", "--untracked-files=no"):
        raise UserError(
            "commit or stash your changes first (see `git status`): an upgrade starts from a clean tree."
        )


def find_conflicts(project: Path) -> list[str]:
    """Files git left unmerged (markers inside) and the `.rej` files of hunks that did not apply."""
    unmerged = _lines(project, "diff", "--name-only", "--diff-filter=U", "--relative")
    rejected = _lines(project, "ls-files", "--others", "--exclude-standard", "--", "*.rej")
    return sorted({*unmerged, *rejected})


def runtime_version(project: Path) -> str:
    """`VERSION` as written in the project's server/httpserver/version.py now (it may just have
    changed); "unversioned" for a project baked before the runtime had a version (0.8.0)."""
    path = project / "server" / "httpserver" / "version.py"
    if not path.is_file():
        return "unversioned"
    source = path.read_text(encoding="utf-8")
    found = re.search(r'^VERSION = "([^"]+)"', source, re.MULTILINE)
    return found.group(1) if found else "unknown"


def report(upgraded: Upgraded) -> None:
    if upgraded.commit_before == upgraded.commit_after:
        say(
            f"already current: commit {upgraded.commit_after[:12]} (runtime {upgraded.version_after})",
            style="green",
        )
        return
    say(
        f"upgraded from commit {upgraded.commit_before[:12]} (runtime {upgraded.version_before}) to "
        f"{upgraded.commit_after[:12]} (runtime {upgraded.version_after}); {len(upgraded.changed)} file(s) "
        "changed (`git diff HEAD` shows how); commit them:",
        style="green",
    )
    for path in upgraded.changed:
        say(f"  {path}")


def _cruft() -> ModuleType:
    try:
        import cruft
    except ImportError:
        raise UserError(
            "cruft is not installed here; `pip install -r requirements-tools.txt` (it pins it)."
        ) from None
    return cruft


def _lines(folder: Path, *arguments: str) -> list[str]:
    return (_git(folder, *arguments) or "").splitlines()


def _git(folder: Path | None, *arguments: str) -> str | None:
    if folder is None or shutil.which("git") is None:
        return None
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), *arguments], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None
