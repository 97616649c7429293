"""Shape the baked project for the chosen framework, then say what to do next.

Every framework's optional files ship in the template; this hook keeps the chosen one's and
removes the rest, so the template has no conditional file names.
"""

import ast
import json
import keyword
import shutil
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
PROJECT = Path.cwd()
STUBS = PROJECT / "code" / "_stubs"
FRAMEWORK_FILES = PROJECT / "_frameworks"
STUB_CLASS = "MnistModel"  # the class name every stub is written with
CACHES = (".ruff_cache", ".pytest_cache", "__pycache__")  # left in the template folder by its own tests


def place_inference_stub(framework: str, main_file: str) -> Path:
    """Move the chosen framework's stub class to code/<main_file as a path>.py."""
    target = PROJECT / "code" / (main_file.replace(".", "/") + ".py")
    target.parent.mkdir(parents=True, exist_ok=True)
    for package in target.relative_to(PROJECT / "code").parents:
        if package != Path("."):
            (PROJECT / "code" / package / "__init__.py").touch()
    shutil.move(str(STUBS / f"{framework}.py"), target)
    shutil.rmtree(STUBS)
    return target


def name_inference_class(stub: Path, main_class: str) -> None:
    """Rename the stub's class to the `main_class` answer. Stubs are plain Python, never rendered:
    the answer is a validated identifier (pre-gen checks it, and so does this), put at the one
    `class` statement the parser finds, so no answer is ever pasted into code by a template."""
    if not main_class.isidentifier() or keyword.iskeyword(main_class):
        raise SystemExit(f"ERROR: main_class {main_class!r} is not a Python class name.")
    lines = stub.read_text(encoding="utf-8").splitlines(keepends=True)
    [line_number] = [
        node.lineno
        for node in ast.parse("".join(lines)).body
        if isinstance(node, ast.ClassDef) and node.name == STUB_CLASS
    ]
    lines[line_number - 1] = lines[line_number - 1].replace(f"class {STUB_CLASS}", f"class {main_class}", 1)
    stub.write_text("".join(lines), encoding="utf-8")


def remove_caches() -> None:
    """Drop tool caches the template folder may hold: a baked project starts clean."""
    for name in CACHES:
        for cache in list(PROJECT.rglob(name)):
            shutil.rmtree(cache, ignore_errors=True)


def place_model_dir(model_dir: str) -> Path:
    """Rename code/checkpoint_dir when the answer names another folder."""
    default = PROJECT / "code" / "checkpoint_dir"
    target = PROJECT / "code" / model_dir.removeprefix("./")
    if target != default:
        target.parent.mkdir(parents=True, exist_ok=True)
        default.rename(target)
    return target


def place_framework_files(framework: str) -> None:
    """Copy _frameworks/<framework>/ over the project (requirements, samples), drop the rest."""
    if not FRAMEWORK_FILES.is_dir():
        return
    chosen = FRAMEWORK_FILES / framework
    if chosen.is_dir():
        shutil.copytree(chosen, PROJECT, dirs_exist_ok=True)
    shutil.rmtree(FRAMEWORK_FILES)


def record_template_origin() -> None:
    """.cruft.json and server/RUNTIME_COMMIT: which template commit this is (`invoke upgrade` reads them)."""
    sys.path.insert(0, str(PROJECT))
    from uaipack.upgrade import record_origin

    record_origin(PROJECT, ANSWERS)


def print_next_steps(slug: str, framework: str, model_dir: str, stub: Path) -> None:
    files = "" if framework == "self" else f", put the model files in code/{model_dir}/"
    print(
        f"\nBaked {slug}/ ({framework}). Edit {stub.relative_to(PROJECT)}{files}, then:\n"
        f"  cd {slug} && pip install -r requirements-tools.txt\n"
        f"  invoke conf && invoke test\n"
        f"  invoke build && invoke smoke-test && invoke push\n"
    )


def main() -> int:
    framework = ANSWERS["framework"]
    stub = place_inference_stub(framework, ANSWERS["main_file"])
    name_inference_class(stub, ANSWERS["main_class"])
    place_model_dir(ANSWERS["model_dir"])
    place_framework_files(framework)
    remove_caches()
    record_template_origin()
    print_next_steps(ANSWERS["project_slug"], framework, ANSWERS["model_dir"], stub)
    return 0


if __name__ == "__main__":
    sys.exit(main())
