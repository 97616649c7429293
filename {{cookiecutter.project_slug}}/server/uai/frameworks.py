"""The model files each UAI framework section names: computed here and nowhere else.

The server's base classes (`uai.arch.*`) and the build tooling both import this module,
so it imports no framework and nothing from the server. Paths are resolved against the
code root: `UAI_CODE_DIR` when set, else the server root (the folder holding `uai/`),
which in the image is `/ai-ucloud-client-django/`, where the user's `code/` is copied.

    model_files("keras", {"model_dir": "./checkpoint_dir", "model_name": "m"}, root)
    -> {"model_arch_file": root/"checkpoint_dir/m.json", "model_weight_file": root/"checkpoint_dir/m.h5"}
    missing_files_message(...) -> one line for the user, or None
"""

from __future__ import annotations

import os
from pathlib import Path

from uai.values import yes_no

#: Sections that name model files; any other section (a self-defined service) names none.
FILE_SECTIONS = ("keras", "caffe", "tensorflow", "mxnet", "xgboost", "pytorch", "onnx", "sklearn")
DEFAULT_MODEL_DIR = "./checkpoint_dir"
#: The one extension each simple single-file framework uses.
_SINGLE_FILE_EXTENSIONS = {"pytorch": ".pt", "onnx": ".onnx", "sklearn": ".joblib"}
_XGBOOST_EXTENSIONS = (".json", ".ubj")


def default_code_root() -> Path:
    """The folder model paths and `main_file` resolve from: `UAI_CODE_DIR`, else the server root."""
    configured = os.environ.get("UAI_CODE_DIR")
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parent.parent


def framework_section(http_server: dict) -> tuple[str, dict]:
    """The framework section of `http_server` (the first key other than `exec`), or ("self", {})."""
    for key, value in http_server.items():
        if key != "exec" and isinstance(value, dict):
            return key, value
    return "self", {}


def model_dir(section: dict, code_root: Path) -> Path:
    """The section's `model_dir` (default `./checkpoint_dir`) resolved against the code root."""
    return _join(code_root, str(section.get("model_dir") or DEFAULT_MODEL_DIR))


def model_files(framework: str, section: dict, code_root: Path) -> dict[str, Path]:
    """The model files the section names, keyed by the base-class attribute that holds them.

    Every file returned is required. A self-defined service (any section not in
    FILE_SECTIONS) names none. Alternatives (a Keras `.keras` file, an XGBoost `.ubj`)
    are chosen when they exist, so the result always names what will be loaded.
    """
    if framework not in FILE_SECTIONS:
        return {}
    folder = model_dir(section, code_root)
    if framework == "tensorflow":
        return {"saved_model_file": folder / "saved_model.pb"}
    name = str(section.get("model_name") or "")
    if framework == "keras":
        return _keras_files(section, folder, name)
    if framework == "caffe":
        return {
            "model_arch_file": folder / f"{name}.prototxt",
            "model_weight_file": folder / f"{name}.caffemodel",
        }
    if framework == "mxnet":
        prefix = folder / name
        epoch = int(section.get("num_epoch") or 0)
        return {
            "model_symbol_file": Path(f"{prefix}-symbol.json"),
            "model_params_file": Path(f"{prefix}-{epoch:04d}.params"),
        }
    if framework == "xgboost":
        return {"model_file": _xgboost_file(folder, name)}
    return {"model_file": folder / f"{name}{_SINGLE_FILE_EXTENSIONS[framework]}"}


def model_paths(framework: str, section: dict, code_root: Path) -> dict[str, str]:
    """Every path attribute a UAI base class sets (`model_dir`, `model_prefix`, files), as strings."""
    folder = model_dir(section, code_root)
    name = str(section.get("model_name") or "")
    paths = {"model_dir": str(folder)}
    if name:
        paths["model_prefix"] = str(folder / name)
    if framework == "keras":
        # UAI users read all three whatever all_one_file says; give them all.
        paths["model_arch_file"] = str(folder / f"{name}.{_arch_type(section)}")
        paths["model_weight_file"] = str(folder / f"{name}.h5")
        paths["model_file"] = str(folder / f"{name}.h5")
    paths.update({key: str(path) for key, path in model_files(framework, section, code_root).items()})
    return paths


def missing_model_files(framework: str, section: dict, code_root: Path) -> list[Path]:
    """The required model files that do not exist (empty when all are there)."""
    return [path for path in model_files(framework, section, code_root).values() if not path.is_file()]


def missing_files_message(framework: str, section: dict, code_root: Path) -> str | None:
    """One line naming the conf section and the missing files, or None when nothing is missing."""
    missing = missing_model_files(framework, section, code_root)
    if not missing:
        return None
    shown = ", ".join(_relative(path, code_root) for path in missing)
    hint = ""
    if framework == "xgboost":
        hint = " (.json or .ubj)"
    elif framework == "keras":
        hint = " (or a single .keras file)"
    return f"http_server.{framework} names {shown}{hint}, missing under {code_root}"


def _keras_files(section: dict, folder: Path, name: str) -> dict[str, Path]:
    keras_file = folder / f"{name}.keras"
    if keras_file.is_file():
        return {"model_file": keras_file}
    if yes_no(section.get("all_one_file")):
        return {"model_file": folder / f"{name}.h5"}
    return {
        "model_arch_file": folder / f"{name}.{_arch_type(section)}",
        "model_weight_file": folder / f"{name}.h5",
    }


def _xgboost_file(folder: Path, name: str) -> Path:
    exact = folder / name
    if Path(name).suffix and exact.is_file():
        return exact  # UAI confs often give the whole file name, e.g. "xgb.model"
    candidates = [folder / f"{name}{extension}" for extension in _XGBOOST_EXTENSIONS]
    return next((path for path in candidates if path.is_file()), candidates[0])


def _arch_type(section: dict) -> str:
    return str(section.get("model_arch_type") or "json").lower()


def _join(root: Path, relative: str) -> Path:
    return Path(os.path.normpath(root / relative))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
