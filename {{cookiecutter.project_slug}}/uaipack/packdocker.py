"""`invoke packdocker`: UAI's one-shot command (conf, build, smoke-test, push) with its parameter names.

`packdocker self` takes the user's own conf file; `packdocker caffe|keras|...` writes
the conf from --main-class/--main-module/--model-dir/--model-name. The code and conf
may live anywhere (a UAI project laid out as in the UAI documents).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from uaipack import UserError, server_module
from uaipack.catalogue import with_arch
from uaipack.conf import write_conf
from uaipack.settings import Project, Settings


@dataclasses.dataclass(frozen=True)
class PackRequest:
    """The UAI parameters, as given (None when not given)."""

    framework: str
    bimg_name: str | None = None
    pack_file_path: str | None = None
    conf_file: str | None = None
    uhub_username: str | None = None
    uhub_registry: str | None = None
    uhub_imagename: str | None = None
    main_class: str | None = None
    main_module: str | None = None
    model_dir: str | None = None
    model_name: str | None = None
    ai_arch_v: str | None = None


def pack_settings(request: PackRequest, settings: Settings) -> Settings:
    """The project's settings with the UAI parameters applied."""
    known = tuple(server_module("uai.frameworks").REGISTRY)  # the framework registry: the one list
    if request.framework not in known:
        raise UserError(
            f"packdocker {request.framework!r} is not a framework; use one of: {', '.join(known)}."
        )
    if request.framework == "self" and any((request.main_class, request.main_module, request.model_name)):
        raise UserError(
            "packdocker self takes its conf from --conf-file; drop --main-class/--main-module/"
            "--model-name, or name a framework (e.g. `invoke packdocker keras ...`)."
        )
    if request.framework != "self" and request.conf_file:
        raise UserError(
            f"packdocker {request.framework} writes its own conf; drop --conf-file, "
            "or use `invoke packdocker self --conf-file ...`."
        )
    settings = with_arch(settings, request.ai_arch_v)
    changes = {
        "base_image": request.bimg_name,
        "username": request.uhub_username,
        "namespace": request.uhub_registry,
        "image_name": request.uhub_imagename,
    }
    if request.framework != "self":
        changes.update(
            framework=request.framework,
            main_class=request.main_class,
            main_file=request.main_module,
            model_dir=request.model_dir,
            model_name=request.model_name,
        )
    return dataclasses.replace(
        settings, **{key: value for key, value in changes.items() if value is not None}
    )


def pack_project(request: PackRequest, settings: Settings, root: Path) -> Project:
    """Where the code, conf and samples are; for a framework, the conf is written (under .uaipack/) first."""
    code_dir = Path(request.pack_file_path).expanduser() if request.pack_file_path else None
    if code_dir is not None and not code_dir.is_dir():
        raise UserError(
            f"--pack-file-path {request.pack_file_path} is not a folder; point it at the code/ folder."
        )
    samples_dir = samples_beside(code_dir)
    if request.framework == "self":
        conf_file = Path(request.conf_file).expanduser() if request.conf_file else None
        if conf_file is not None and not conf_file.is_file():
            raise UserError(f"--conf-file {request.conf_file} does not exist; point it at your conf.json.")
        return Project.at(root, code_dir=code_dir, conf_path=conf_file, samples_dir=samples_dir)
    project = Project.at(
        root,
        code_dir=code_dir,
        conf_path=Path(root) / ".uaipack" / "packdocker-conf.json",
        samples_dir=samples_dir,
    )
    project.conf_path.parent.mkdir(parents=True, exist_ok=True)
    write_conf(settings, project)
    return project


def samples_beside(code_dir: Path | None) -> Path | str | None:
    """This project's samples for its own code; for code elsewhere, a samples/ folder beside it, if any."""
    if code_dir is None:
        return "samples"
    beside = code_dir.resolve().parent / "samples"
    return beside if beside.is_dir() else None
