"""The framework registry: one `Framework` per UAI conf section, and the model files it names.

Everything else reads this table: the template's framework choices (cookiecutter.json), the
conf sections `invoke conf` writes and the schema checks, the base classes (`uai.arch.*`),
the image requests of the stubs (`uai.images`), the packages each framework's project gets
(its requirements.txt) and the base-image catalogue (`uaipack.catalogue`). Generated files
are rewritten by `python -m devtools.generate`. The server imports this module to resolve
model files, so it imports no framework and nothing from the server.

Paths are resolved against the code root: `UAI_CODE_DIR` when set, else the server root
(the folder holding `uai/`), which in the image is `/ai-ucloud-client-django/`.

    model_files("keras", {"model_dir": "./checkpoint_dir", "model_name": "m"}, root)
    -> {"model_arch_file": root/"checkpoint_dir/m.json", "model_weight_file": root/"checkpoint_dir/m.h5"}
    missing_files_message(...) -> one line for the user, or None
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from uai.values import yes_no

DEFAULT_MODEL_DIR = "./checkpoint_dir"
#: The CUDA runtime image GPU catalogue entries start from (cuDNN included; Ubuntu 24.04, Python 3.12).
CUDA_BASE_IMAGE = "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"
NUMPY = "numpy==2.4.6"
#: Decodes image requests (`uai.images`) for the vision frameworks that have no decoder of their own.
PILLOW = "Pillow==13.0.0"

Files = Callable[[Mapping[str, Any], Path, str], dict[str, Path]]


@dataclasses.dataclass(frozen=True)
class ConfKey:
    """One key of a framework's conf section: its JSON schema, its default and whether
    `invoke conf` writes it (from the setting of the same name when there is one)."""

    name: str
    schema: Mapping[str, Any]
    help: str
    required: bool = False
    default: Any = None
    written: bool = False


@dataclasses.dataclass(frozen=True)
class Gpu:
    """A documented (not built here) GPU variant of a framework's catalogue entry."""

    packages: tuple[str, ...]
    base_image: str = CUDA_BASE_IMAGE
    note: str = "documented, not built"


@dataclasses.dataclass(frozen=True)
class Framework:
    """A UAI conf section: its keys, the model files it names, the base class user code
    derives from, and (for template choices) the pinned CPU packages of its stub."""

    name: str
    title: str
    keys: tuple[ConfKey, ...]
    base_class: str
    files: Files | None = None
    packages: tuple[str, ...] = ()
    packages_note: str = ""
    ai_arch_v: str = ""
    version: str = ""
    gpu: Gpu | None = None
    template: bool = True
    takes_images: bool = False

    def key(self, name: str) -> ConfKey | None:
        return next((key for key in self.keys if key.name == name), None)

    def default(self, name: str) -> Any:
        """The value a section without `name` means (None when the key has no default)."""
        key = self.key(name)
        return None if key is None else key.default


def _join(root: Path, relative: str) -> Path:
    return Path(os.path.normpath(root / relative))


def model_dir(section: Mapping[str, Any], code_root: Path) -> Path:
    """The section's `model_dir` (default `./checkpoint_dir`) resolved against the code root."""
    return _join(code_root, str(section.get("model_dir") or DEFAULT_MODEL_DIR))


def _arch_type(section: Mapping[str, Any]) -> str:
    return str(section.get("model_arch_type") or "json").lower()


def _keras_files(section: Mapping[str, Any], folder: Path, name: str) -> dict[str, Path]:
    keras_file = folder / f"{name}.keras"
    if keras_file.is_file():
        return {"model_file": keras_file}
    if yes_no(section.get("all_one_file")):
        return {"model_file": folder / f"{name}.h5"}
    return {
        "model_arch_file": folder / f"{name}.{_arch_type(section)}",
        "model_weight_file": folder / f"{name}.h5",
    }


def _caffe_files(section: Mapping[str, Any], folder: Path, name: str) -> dict[str, Path]:
    return {
        "model_arch_file": folder / f"{name}.prototxt",
        "model_weight_file": folder / f"{name}.caffemodel",
    }


def _saved_model_files(section: Mapping[str, Any], folder: Path, name: str) -> dict[str, Path]:
    return {"saved_model_file": folder / "saved_model.pb"}


def _mxnet_files(section: Mapping[str, Any], folder: Path, name: str) -> dict[str, Path]:
    prefix, epoch = folder / name, int(section.get("num_epoch") or 0)
    return {
        "model_symbol_file": Path(f"{prefix}-symbol.json"),
        "model_params_file": Path(f"{prefix}-{epoch:04d}.params"),
    }


def _xgboost_files(section: Mapping[str, Any], folder: Path, name: str) -> dict[str, Path]:
    exact = folder / name
    if Path(name).suffix and exact.is_file():
        return {"model_file": exact}  # UAI confs often give the whole file name, e.g. "xgb.model"
    candidates = [folder / f"{name}{extension}" for extension in (".json", ".ubj")]
    return {"model_file": next((path for path in candidates if path.is_file()), candidates[0])}


def _one_file(extension: str) -> Files:
    def files(section: Mapping[str, Any], folder: Path, name: str) -> dict[str, Path]:
        return {"model_file": folder / f"{name}{extension}"}

    return files


_RELATIVE_DIR = {"$ref": "#/$defs/relative_dir"}
_FILE_NAME = {"$ref": "#/$defs/file_name"}
_PIXELS = {"oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}, "minItems": 1}]}
MODEL_DIR = ConfKey(
    "model_dir", _RELATIVE_DIR, "the model folder, relative to code/", True, DEFAULT_MODEL_DIR, True
)
MODEL_NAME = ConfKey("model_name", _FILE_NAME, "the model file name without extension", True, "", True)


def image_keys(pixel_std: float, layout: str, channel_order: str = "RGB") -> tuple[ConfKey, ...]:
    """The keys of image requests (`uai.images`), with this framework's defaults."""
    return (
        ConfKey(
            "pixel_mean",
            _PIXELS,
            "subtracted from each 0..255 pixel (one value, or one per channel)",
            default=0,
            written=True,
        ),
        ConfKey(
            "pixel_std",
            _PIXELS | {"not": {"const": 0}},
            "the pixel minus the mean is divided by it (255: 0..1, 1: raw 0..255)",
            default=pixel_std,
            written=True,
        ),
        ConfKey(
            "image_answer",
            {"enum": ["class", "json"]},
            'an image is answered with its class index as text ("class", UAI\'s "2\\n") '
            'or as JSON {"class": 2, "scores": [...]}',
            default="class",
            written=True,
        ),
        ConfKey(
            "channel_order",
            {"enum": ["RGB", "BGR"]},
            "the colour order the model was trained on",
            default=channel_order,
        ),
        ConfKey(
            "input_layout",
            {"enum": ["NCHW", "NHWC"]},
            "where the channels are when the input shape leaves it open",
            default=layout,
        ),
    )


REGISTRY: dict[str, Framework] = {
    framework.name: framework
    for framework in (
        Framework(
            name="self",
            title="self-defined (pure Python)",
            keys=(MODEL_DIR,),
            base_class="uai.arch.self_model.SelfDefinedModel",
            ai_arch_v="self-py3.11",
            version="3.11",
        ),
        Framework(
            name="keras",
            title="Keras 3 (JAX backend)",
            keys=(
                MODEL_DIR,
                MODEL_NAME,
                ConfKey(
                    "all_one_file",
                    {"type": "boolean"},
                    "the whole model in one .h5",
                    default=False,
                    written=True,
                ),
                ConfKey(
                    "model_arch_type",
                    {"enum": ["json", "yaml"]},
                    "the architecture file's type",
                    default="json",
                    written=True,
                ),
                *image_keys(255, "NHWC"),
            ),
            base_class="uai.arch.keras_model.KerasAiUcloudModel",
            files=_keras_files,
            packages=(
                "keras==3.12.0",
                "jax==0.8.0",
                "jaxlib==0.8.0",
                "h5py==3.16.0",
                "PyYAML==6.0.3",
                PILLOW,
                NUMPY,
            ),
            packages_note="Keras 3 on the JAX backend (CPU jaxlib): the lightest backend that runs\n"
            "every layer; h5py reads .h5 files, PyYAML .yaml architectures, Pillow image requests.\n"
            "To use TensorFlow or PyTorch instead, swap jax/jaxlib for it and set KERAS_BACKEND.",
            ai_arch_v="keras-3.x",
            version="3.12.0",
            gpu=Gpu(("keras==3.12.0", "jax[cuda12]==0.8.0", "h5py==3.16.0", PILLOW, NUMPY)),
            takes_images=True,
        ),
        Framework(
            name="caffe",
            title="Caffe (on OpenCV dnn)",
            keys=(MODEL_DIR, MODEL_NAME, *image_keys(1, "NCHW", "BGR")),
            base_class="uai.arch.caffe_model.CaffeAiUcloudModel",
            files=_caffe_files,
            packages=("opencv-python-headless==4.13.0.92", NUMPY),
            packages_note="Caffe has no maintained builds: OpenCV's dnn module reads .prototxt +\n"
            ".caffemodel and decodes image requests. Stay on 4.x: OpenCV 5.0 dropped the Caffe importer.",
            ai_arch_v="caffe-1.0.0",
            version="1.0.0",
            gpu=Gpu(
                ("opencv-python-headless==4.13.0.92", NUMPY),
                note="documented, not built: build OpenCV with CUDA",
            ),
            takes_images=True,
        ),
        Framework(
            name="tensorflow",
            title="TensorFlow (SavedModel)",
            keys=(
                MODEL_DIR,
                ConfKey("input", {"type": "string"}, "the signature's input (default: its only one)"),
                ConfKey("output", {"type": "string"}, "the output answered (default: the first by name)"),
                ConfKey("tag", {"type": "string"}, "the SavedModel tag (default serve)"),
                ConfKey("signature", {"type": "string"}, "the signature called (default serving_default)"),
                *image_keys(255, "NHWC"),
            ),
            base_class="uai.arch.tf_model.TFAiUcloudModel",
            files=_saved_model_files,
            packages=("tensorflow-cpu==2.20.0", "protobuf==6.33.6", PILLOW, NUMPY),
            packages_note="tensorflow-cpu: TensorFlow without the CUDA libraries.\n"
            "Pillow decodes image requests.",
            ai_arch_v="tensorflow-2.x",
            version="2.20.0",
            gpu=Gpu(
                ("tensorflow==2.20.0", "protobuf==6.33.6", PILLOW, NUMPY),
                base_image="tensorflow/tensorflow:2.20.0-gpu",
            ),
            takes_images=True,
        ),
        Framework(
            name="pytorch",
            title="PyTorch (TorchScript)",
            keys=(
                MODEL_DIR,
                MODEL_NAME,
                ConfKey(
                    "input_shape",
                    {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
                    "one example's shape without the batch dimension (TorchScript files do not say it); "
                    "image requests are fitted to it",
                    default=[1, 28, 28],
                    written=True,
                ),
                *image_keys(255, "NCHW"),
            ),
            base_class="uai.arch.pytorch_model.PyTorchModel",
            files=_one_file(".pt"),
            packages=("torch==2.13.0", PILLOW, NUMPY),
            packages_note="torch 2.13.0 is the +cpu wheel; any other or an unpinned torch pulls a\n"
            "multi-GB CUDA build. Pillow decodes image requests.",
            ai_arch_v="pytorch-2.x",
            version="2.13.0",
            gpu=Gpu(
                ("torch==2.13.0", PILLOW, NUMPY), note="documented, not built; the default (CUDA) torch wheel"
            ),
            takes_images=True,
        ),
        Framework(
            name="onnx",
            title="ONNX (onnxruntime)",
            keys=(MODEL_DIR, MODEL_NAME, *image_keys(255, "NCHW")),
            base_class="uai.arch.onnx_model.OnnxModel",
            files=_one_file(".onnx"),
            packages=("onnxruntime==1.24.4", PILLOW, NUMPY),
            packages_note="onnxruntime (CPU); for a GPU image use onnxruntime-gpu.\n"
            "Pillow decodes image requests.",
            ai_arch_v="onnx-1.x",
            version="1.24.4",
            gpu=Gpu(("onnxruntime-gpu==1.24.4", PILLOW, NUMPY)),
            takes_images=True,
        ),
        Framework(
            name="sklearn",
            title="scikit-learn",
            keys=(MODEL_DIR, MODEL_NAME),
            base_class="uai.arch.sklearn_model.SklearnModel",
            files=_one_file(".joblib"),
            packages=("scikit-learn==1.8.0", "joblib==1.5.3", NUMPY),
            packages_note="scikit-learn loads the joblib file; joblib and numpy are what the stub imports.",
            ai_arch_v="sklearn-1.x",
            version="1.8.0",
        ),
        Framework(
            name="xgboost",
            title="XGBoost",
            keys=(dataclasses.replace(MODEL_DIR, required=False), MODEL_NAME),
            base_class="uai.arch.xgboost_model.XGBoostUcloudModel",
            files=_xgboost_files,
            packages=("xgboost-cpu==3.1.3", NUMPY),
            packages_note="xgboost-cpu is XGBoost without the NCCL/CUDA libraries of plain `xgboost`.",
            ai_arch_v="xgboost-3.x",
            version="3.1.3",
            gpu=Gpu(("xgboost==3.1.3", NUMPY)),
        ),
        Framework(
            name="mxnet",
            title="MXNet (retired in 2023: bring a base image with it)",
            keys=(
                MODEL_DIR,
                MODEL_NAME,
                ConfKey(
                    "num_epoch",
                    {"type": "integer", "minimum": 0},
                    "the checkpoint's epoch",
                    default=0,
                    written=True,
                ),
            ),
            base_class="uai.arch.mxnet_model.MXNetAiUcloudModel",
            files=_mxnet_files,
            template=False,
        ),
    )
}
#: The template's framework choices, in prompt order (the first is the default).
TEMPLATE_FRAMEWORKS = tuple(name for name, framework in REGISTRY.items() if framework.template)


def get(name: str) -> Framework | None:
    """The registry entry of a conf section (None for a self-defined section of another name)."""
    return REGISTRY.get(name)


def default_code_root() -> Path:
    """The folder model paths and `main_file` resolve from: `UAI_CODE_DIR`, else the server root."""
    configured = os.environ.get("UAI_CODE_DIR")
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parent.parent


def framework_section(http_server: Mapping[str, Any]) -> tuple[str, dict]:
    """The framework section of `http_server` (the first key other than `exec`), or ("self", {})."""
    for key, value in http_server.items():
        if key != "exec" and isinstance(value, dict):
            return key, value
    return "self", {}


def model_files(framework: str, section: Mapping[str, Any], code_root: Path) -> dict[str, Path]:
    """The model files the section names, keyed by the base-class attribute that holds them.

    Every file returned is required. A self-defined service (a section whose framework names
    no files) names none. Alternatives (a Keras `.keras` file, an XGBoost `.ubj`) are chosen
    when they exist, so the result always names what will be loaded.
    """
    entry = get(framework)
    if entry is None or entry.files is None:
        return {}
    return entry.files(section, model_dir(section, code_root), str(section.get("model_name") or ""))


def model_paths(framework: str, section: Mapping[str, Any], code_root: Path) -> dict[str, str]:
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


def missing_model_files(framework: str, section: Mapping[str, Any], code_root: Path) -> list[Path]:
    """The required model files that do not exist (empty when all are there)."""
    return [path for path in model_files(framework, section, code_root).values() if not path.is_file()]


def missing_files_message(framework: str, section: Mapping[str, Any], code_root: Path) -> str | None:
    """One line naming the conf section and the missing files, or None when nothing is missing."""
    missing = missing_model_files(framework, section, code_root)
    if not missing:
        return None
    shown = ", ".join(_relative(path, code_root) for path in missing)
    hint = {"xgboost": " (.json or .ubj)", "keras": " (or a single .keras file)"}.get(framework, "")
    return f"http_server.{framework} names {shown}{hint}, missing under {code_root}"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
