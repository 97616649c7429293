"""The base-image catalogue: which base image and packages serve each framework version.

UAI's `--ai_arch_v` (e.g. `caffe-1.0.0`) picked a base image from a catalogue of framework
versions, with CPU and GPU variants. Here every framework has one CPU entry, built on the
local Debian Python base image with the same pinned CPU-only packages the template writes
into that framework's requirements.txt (a test keeps the two equal), and, where the
framework has a GPU build, a GPU entry that names the CUDA base image and the GPU
packages to use instead: documented, not built or tested here.

    invoke base-images                 -> render_table()
    invoke build --ai-arch-v sklearn-1.x -> lookup("sklearn-1.x").base_image, .packages
"""

from __future__ import annotations

import dataclasses

from uaipack import UserError
from uaipack.settings import LOCAL_BASE_IMAGE

#: The CUDA runtime image GPU entries start from (cuDNN included; Ubuntu 24.04, Python 3.12).
CUDA_BASE_IMAGE = "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"
DEVICES = ("cpu", "gpu")


@dataclasses.dataclass(frozen=True)
class BaseImage:
    """One catalogue entry: `ai_arch_v` plus device names a base image and the packages to add."""

    ai_arch_v: str
    framework: str
    version: str
    device: str
    base_image: str
    packages: tuple[str, ...]
    note: str = ""

    @property
    def built_here(self) -> bool:
        """CPU entries are built and tested here; GPU entries are documented only."""
        return self.device == "cpu"


def _cpu(ai_arch_v: str, framework: str, version: str, *packages: str, note: str = "") -> BaseImage:
    return BaseImage(ai_arch_v, framework, version, "cpu", LOCAL_BASE_IMAGE, packages, note)


def _gpu(
    ai_arch_v: str, framework: str, version: str, *packages: str, base: str = CUDA_BASE_IMAGE, note: str = ""
) -> BaseImage:
    return BaseImage(ai_arch_v, framework, version, "gpu", base, packages, note or "documented, not built")


CATALOGUE: tuple[BaseImage, ...] = (
    _cpu("self-py3.11", "self", "3.11", note="pure Python; add your own packages"),
    _cpu("sklearn-1.x", "sklearn", "1.8.0", "scikit-learn==1.8.0", "joblib==1.5.3", "numpy==2.4.6"),
    _cpu(
        "xgboost-3.x",
        "xgboost",
        "3.1.3",
        "xgboost-cpu==3.1.3",
        "numpy==2.4.6",
        note="xgboost-cpu: the build without NCCL/CUDA",
    ),
    _gpu("xgboost-3.x", "xgboost", "3.1.3", "xgboost==3.1.3", "numpy==2.4.6"),
    _cpu("onnx-1.x", "onnx", "1.24.4", "onnxruntime==1.24.4", "numpy==2.4.6"),
    _gpu("onnx-1.x", "onnx", "1.24.4", "onnxruntime-gpu==1.24.4", "numpy==2.4.6"),
    _cpu(
        "pytorch-2.x",
        "pytorch",
        "2.13.0",
        "torch==2.13.0",
        "numpy==2.4.6",
        note="the +cpu wheel; an unpinned torch pulls the CUDA build",
    ),
    _gpu(
        "pytorch-2.x",
        "pytorch",
        "2.13.0",
        "torch==2.13.0",
        "numpy==2.4.6",
        note="documented, not built; the default (CUDA) torch wheel",
    ),
    _cpu(
        "keras-3.x",
        "keras",
        "3.12.0",
        "keras==3.12.0",
        "jax==0.8.0",
        "jaxlib==0.8.0",
        "h5py==3.16.0",
        "PyYAML==6.0.3",
        "numpy==2.4.6",
        note="Keras 3 on the JAX backend",
    ),
    _gpu(
        "keras-3.x", "keras", "3.12.0", "keras==3.12.0", "jax[cuda12]==0.8.0", "h5py==3.16.0", "numpy==2.4.6"
    ),
    _cpu(
        "tensorflow-2.x", "tensorflow", "2.20.0", "tensorflow-cpu==2.20.0", "protobuf==6.33.6", "numpy==2.4.6"
    ),
    _gpu(
        "tensorflow-2.x",
        "tensorflow",
        "2.20.0",
        "tensorflow==2.20.0",
        "protobuf==6.33.6",
        "numpy==2.4.6",
        base="tensorflow/tensorflow:2.20.0-gpu",
    ),
    _cpu(
        "caffe-1.0.0",
        "caffe",
        "1.0.0",
        "opencv-python-headless==4.13.0.92",
        "numpy==2.4.6",
        note="Caffe models run on OpenCV dnn (no maintained Caffe build); GPU: build OpenCV with CUDA",
    ),
)

HEADERS = ("ai_arch_v", "framework", "version", "device", "base image", "packages", "note")


def table(device: str = "all") -> list[tuple[str, ...]]:
    """One row of strings per entry (of one device, or all), in HEADERS order."""
    if device not in (*DEVICES, "all"):
        raise UserError(f"device {device!r} is unknown; use one of: {', '.join(DEVICES)}, all.")
    return [
        (
            entry.ai_arch_v,
            entry.framework,
            entry.version,
            entry.device,
            entry.base_image,
            " ".join(entry.packages) or "-",
            entry.note,
        )
        for entry in CATALOGUE
        if device in ("all", entry.device)
    ]


def render_table(device: str = "all") -> str:
    """The catalogue as a plain-text table with aligned columns (`invoke base-images`)."""
    rows = [HEADERS, *table(device)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def lookup(ai_arch_v: str, device: str = "cpu") -> BaseImage:
    """The entry for `ai_arch_v` on `device` ("cpu" or "gpu"); a UserError names the known values."""
    device = device.lower()
    if device not in DEVICES:
        raise UserError(f"device {device!r} is unknown; use one of: {', '.join(DEVICES)}.")
    for entry in CATALOGUE:
        if entry.ai_arch_v == ai_arch_v and entry.device == device:
            return entry
    known = sorted({entry.ai_arch_v for entry in CATALOGUE if entry.device == device})
    raise UserError(f"--ai-arch-v {ai_arch_v!r} has no {device} base image; use one of: {', '.join(known)}.")


def for_framework(framework: str, device: str = "cpu") -> BaseImage | None:
    """The catalogue entry of a template framework on `device`, or None when it has none."""
    return next(
        (entry for entry in CATALOGUE if entry.framework == framework and entry.device == device), None
    )
