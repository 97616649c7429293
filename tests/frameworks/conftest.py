"""Helpers of the framework tests: bake a project, put a tiny real model in it, run its tasks.

Every framework test goes the user's way: bake with `framework=<name>`, drop the model files
in `code/checkpoint_dir/`, write samples with the answers of the same model run directly,
then run the project's own invoke tasks as a subprocess in the baked folder. A project is
made once per framework per process (xdist workers each make their own).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from frameworks.models import MAKERS, Case

# The keras stub's backend, set before anything (TensorFlow's SavedModel code included) imports keras.
os.environ.setdefault("KERAS_BACKEND", "jax")

import bakery
from uaipack.samples import FLOAT_TOLERANCE as RELATIVE_TOLERANCE  # the smoke test's own tolerance
from uaipack.settings import LOCAL_BASE_IMAGE

# A namespace per test process: runs sharing the engine (xdist workers, other checkouts) never
# tag or remove each other's images.
TEST_REGISTRY, TEST_NAMESPACE = "localhost", f"uaipack-fw-tests-{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass
class BakedModel:
    """A baked project holding a real model of `framework`, and that model's own answers."""

    framework: str
    project: Path
    case: Case

    @property
    def image(self) -> str:
        """The reference `invoke build` tags (registry/namespace/name from the answers of `bake`)."""
        return f"{TEST_REGISTRY}/{TEST_NAMESPACE}/uaipack-fw-{self.framework}:test"

    @property
    def code_dir(self) -> Path:
        return self.project / "code"

    @property
    def model_dir(self) -> Path:
        return self.code_dir / "checkpoint_dir"

    def invoke(
        self, *arguments: str, timeout: float = 1800, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Run `invoke <arguments>` in the project as a user would (`env`: more environment
        variables, e.g. INVOKE_UAI_* settings); the output is kept for messages."""
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "invoke", *arguments],
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        seconds = time.monotonic() - started
        print(f"[{self.framework}] invoke {' '.join(arguments)}: exit {result.returncode} in {seconds:.1f} s")
        return result


def bake(output_dir: Path, framework: str, **more_answers: str) -> Path:
    """A freshly baked project for `framework` on the local base image, with an image name of its own."""
    answers = {
        "framework": framework,
        "project_name": f"fw {framework}",
        "base_image": LOCAL_BASE_IMAGE,
        "registry": TEST_REGISTRY,
        "namespace": TEST_NAMESPACE,
        "image_name": f"uaipack-fw-{framework}:test",
        **more_answers,
    }
    return bakery.bake(output_dir, **answers)


def bake_with_model(output_dir: Path, framework: str) -> BakedModel:
    """Bake a project for `framework`, write its tiny model and one sample per example input."""
    project = bake(output_dir, framework)
    baked = BakedModel(
        framework, project, MAKERS[framework](project / "code" / "checkpoint_dir", "mnist_model")
    )
    write_samples(project / "samples", framework, baked.case)
    return baked


def write_samples(samples: Path, framework: str, case: Case) -> None:
    """`samples/<framework>-<i>.json` request bodies, each beside its `.expected.json` answer, and
    the case's image files (`digit-<i>.png`, `.jpg`) beside the class the model gives each.

    The folder is emptied first: only this model's answers are known here (that a fresh
    project ships no foreign sample is a test of its own).
    """
    shutil.rmtree(samples, ignore_errors=True)
    samples.mkdir()
    for index, (body, expected) in enumerate(zip(case.inputs, case.expected, strict=True)):
        (samples / f"{framework}-{index}.json").write_text(json.dumps(body))
        (samples / f"{framework}-{index}.expected.json").write_text(json.dumps(expected))
    for file_name, image, digit, _ in case.images:  # UAI's image requests, answered "2\n"
        (samples / file_name).write_bytes(image)
        (samples / f"{file_name.split('.')[0]}.expected").write_text(f"{digit}\n")


def load_stub(baked: BakedModel, monkeypatch: pytest.MonkeyPatch):
    """An instance of the baked inference class, made in this process from the conf `invoke conf` wrote."""
    conf = json.loads((baked.project / "conf.json").read_text())
    monkeypatch.setenv("UAI_CODE_DIR", str(baked.code_dir))
    monkeypatch.syspath_prepend(str(baked.project / "server"))
    exec_section = conf["http_server"]["exec"]
    path = baked.code_dir / (exec_section["main_file"].replace(".", "/") + ".py")
    spec = importlib.util.spec_from_file_location(f"stub_{baked.framework}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, exec_section["main_class"])(conf)


def request(body: bytes, content_type: str = "application/json"):
    """One request as the server hands it to `execute`."""
    from httpserver.inputs import RequestInput

    return RequestInput(body, content_type)


def assert_close(actual, expected) -> None:
    """Equal as JSON values, floats within the smoke test's relative tolerance."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=RELATIVE_TOLERANCE, atol=1e-6
    )


_BAKED: dict[str, BakedModel] = {}


@pytest.fixture
def baked(request, tmp_path_factory) -> BakedModel:
    """The baked project with a real model of the parametrized framework (made once per process)."""
    framework = request.param
    if framework not in _BAKED:
        _BAKED[framework] = bake_with_model(tmp_path_factory.mktemp(framework), framework)
    return _BAKED[framework]


@pytest.fixture
def removes_its_image(baked, docker_client):
    """Removes the image the test builds, keeping its untagged parent layers (no prune), so that
    builds running in parallel that share those cached layers do not lose them mid-build."""
    yield baked
    try:
        docker_client.images.remove(baked.image, force=True, noprune=True)
    except Exception as error:  # noqa: BLE001 - an image the test never built is fine to miss
        print(f"[{baked.framework}] left {baked.image}: {error}")
