"""conf.json: written from the settings, validated against `conf.schema.json`, checked against the code.

The checks run before any build, so a wrong module, class or missing model file costs
seconds, not a build: the module is found and read as source (never imported, so no
framework is needed on the host), and the model files a framework section names come
from the server's own `uai.frameworks`, the one place that knows them.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema

from uaipack import UserError, server_module
from uaipack.progress import say
from uaipack.settings import Project, Settings

SCHEMA_PATH = Path(__file__).with_name("conf.schema.json")


def conf_from_settings(settings: Settings) -> dict[str, Any]:
    """The UAI conf (http_server.exec + the framework section) plus the server knobs."""
    return {
        "http_server": {
            "exec": {"main_class": settings.main_class, "main_file": settings.main_file},
            settings.framework: framework_section(settings),
        },
        "server": dict(settings.server),
    }


def framework_section(settings: Settings) -> dict[str, Any]:
    """The keys of this framework's section that `invoke conf` writes (the registry's
    `written` keys), each from the setting of the same name, else its default."""
    framework = server_module("uai.frameworks").get(settings.framework)
    if framework is None:
        return {"model_dir": settings.model_dir}  # self-defined: free-form; the model dir is handy
    return {key.name: getattr(settings, key.name, key.default) for key in framework.keys if key.written}


def write_conf(settings: Settings, project: Project) -> dict[str, Any]:
    """Write conf.json from the settings after checking it; returns the conf."""
    conf = conf_from_settings(settings)
    check_conf(conf, project)
    project.conf_path.write_text(json.dumps(conf, indent=2) + "\n", encoding="utf-8")
    if project.conf_path.parent == project.root:
        _record_digest(project, _file_digest(project.conf_path))
    return conf


def ensure_conf(settings: Settings, project: Project) -> dict[str, Any]:
    """The conf to build with: rewritten from the settings unless the user edited it by hand.

    A conf that uaipack wrote (its digest is the one recorded when written) follows
    invoke.yaml; a hand-edited one (UAI's `packdocker self` style) is kept as it is.
    """
    path = project.conf_path
    if path.is_file() and _file_digest(path) != _recorded_digest(project):
        say(f"using the hand-edited {path.name} as it is (delete it to have it written from invoke.yaml)")
        return load_conf(project)
    return write_conf(settings, project)


def load_conf(project: Project) -> dict[str, Any]:
    """Read and check a conf file (hand-written or generated)."""
    path = project.conf_path
    if not path.is_file():
        raise UserError(
            f"{path} does not exist; run `invoke conf` to write it, or point --conf-file at yours."
        )
    try:
        conf = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(
            f"{path} is not valid JSON ({exc}); fix the file or run `invoke conf` to rewrite it."
        ) from None
    check_conf(conf, project, source=path.name)
    return conf


def check_conf(conf: Any, project: Project, source: str = "conf.json") -> None:
    """Schema, then module and class, then model files; the first problem is one UserError."""
    validate_schema(conf, source)
    check_main_class(conf["http_server"]["exec"], project.code_dir)
    check_model_files(conf["http_server"], project)


def validate_schema(conf: Any, source: str = "conf.json") -> None:
    """Raise one sentence naming the key and the rule it breaks."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(conf))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "the top level"
        raise UserError(
            f"{source}: {where}: {error.message}; fix it (the rules are in uaipack/conf.schema.json)."
        )


def check_main_class(exec_section: dict[str, str], code_dir: Path) -> None:
    """main_file must be a module under code/ whose source defines main_class."""
    main_file, main_class = exec_section["main_file"], exec_section["main_class"]
    source_path = module_source(main_file, code_dir)
    if source_path is None:
        relative = main_file.replace(".", "/")
        raise UserError(
            f"http_server.exec.main_file {main_file!r} names no module: "
            f"{code_dir}/{relative}.py does not exist; "
            "fix main_file (a module path under code/, dots for packages) or add the file."
        )
    try:
        names = top_level_names(source_path.read_text(encoding="utf-8"))
    except SyntaxError as exc:
        raise UserError(f"{source_path} line {exc.lineno}: {exc.msg}; fix the syntax error.") from None
    if main_class not in names:
        defined = ", ".join(sorted(names)) or "nothing"
        raise UserError(
            f"http_server.exec.main_class {main_class!r} is not defined in {source_path} "
            f"(it defines: {defined}); "
            "fix main_class or the module."
        )


def module_source(main_file: str, code_dir: Path) -> Path | None:
    """The file a dotted module path resolves to under code/, or None."""
    base = code_dir.joinpath(*main_file.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def top_level_names(source: str) -> set[str]:
    """Names a module binds at top level: classes, assignments and imports."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def check_model_files(http_server: dict[str, Any], project: Project) -> None:
    """Every model file the framework section names exists under code/."""
    frameworks = server_module("uai.frameworks")
    framework, section = frameworks.framework_section(http_server)
    problem = frameworks.missing_files_message(framework, section, project.code_dir)
    if problem:
        raise UserError(f"{problem}; put the model files there or fix http_server.{framework}.")


def conf_digest(conf: dict[str, Any]) -> str:
    """A stable digest of the conf's content, recorded as an image label."""
    canonical = json.dumps(conf, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest_record(project: Project) -> Path:
    return project.work_dir / "conf.json.written"


def _recorded_digest(project: Project) -> str | None:
    record = _digest_record(project)
    return record.read_text().strip() if record.is_file() else None


def _record_digest(project: Project, digest: str) -> None:
    _digest_record(project).parent.mkdir(parents=True, exist_ok=True)
    _digest_record(project).write_text(digest + "\n")


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
