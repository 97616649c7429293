"""`invoke packdocker`, UAI's one-shot command, packing a UAI project that lives outside the
baked project (a `code/` folder and a conf file beside it), in both of UAI's forms."""

from __future__ import annotations

import json

import pytest

from e2e.support import PASSWORD, USERNAME

UAI_CLASS = """
from uai.arch.base_model import AiUcloudModel


class MnistModel(AiUcloudModel):
    def load_model(self):
        return None

    def execute(self, data, batch_size):
        return ["uai:%d" % len(request.body) for request in data]
"""


@pytest.fixture
def uai_project(tmp_path):
    """A project as the UAI documents lay it out: code/ with the module and model folder, conf beside."""
    code = tmp_path / "uai-project" / "code"
    (code / "checkpoint_dir").mkdir(parents=True)
    (code / "mnist_inference.py").write_text(UAI_CLASS)
    conf = {"http_server": {"exec": {"main_class": "MnistModel", "main_file": "mnist_inference"}}}
    (code.parent / "conf.json").write_text(json.dumps(conf))
    return code.parent


def test_packdocker_self_packs_an_outside_uai_project_and_ends_with_the_success_line(
    pushed, baked, uai_project, run_invoke, registry, base_image, made_images
):
    made_images.add(f"{registry.address}/uai/outside:v1")
    result = run_invoke(
        baked,
        "packdocker",
        "self",
        "--bimg-name",
        base_image,
        "--pack-file-path",
        str(uai_project / "code"),
        "--conf-file",
        str(uai_project / "conf.json"),
        "--uhub-username",
        USERNAME,
        "--uhub-registry",
        "uai",
        "--uhub-imagename",
        "outside:v1",
        UHUB_PASSWORD=PASSWORD,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "no samples for this code" in result.stdout and "smoke test passed" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        f"upload docker images successful. images:{registry.address}/uai/outside:v1"
    )
    assert registry.has_manifest("uai/outside", "v1")


def test_packdocker_framework_form_writes_the_conf_and_pushes(
    pushed, baked, uai_project, run_invoke, registry, base_image, made_images
):
    for name in ("digits.prototxt", "digits.caffemodel"):
        (uai_project / "code" / "checkpoint_dir" / name).write_bytes(b"model")
    made_images.add(f"{registry.address}/uai/caffe-style:v1")
    result = run_invoke(
        baked,
        "packdocker",
        "caffe",
        "--bimg-name",
        base_image,
        "--pack-file-path",
        str(uai_project / "code"),
        "--main-class",
        "MnistModel",
        "--main-module",
        "mnist_inference",
        "--model-dir",
        "./checkpoint_dir",
        "--model-name",
        "digits",
        "--uhub-registry",
        "uai",
        "--uhub-imagename",
        "caffe-style:v1",
        UHUB_USERNAME=USERNAME,
        UHUB_PASSWORD=PASSWORD,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert result.stdout.strip().splitlines()[-1].endswith(f"images:{registry.address}/uai/caffe-style:v1")
    written = json.loads((baked / ".uaipack" / "packdocker-conf.json").read_text())
    caffe = written["http_server"]["caffe"]
    assert (caffe["model_dir"], caffe["model_name"], caffe["pixel_std"]) == ("./checkpoint_dir", "digits", 1)


def test_packdocker_refuses_a_password_flag_before_doing_anything(baked, run_invoke, uai_project):
    result = run_invoke(
        baked,
        "packdocker",
        "self",
        "--uhub-password",
        "hunter2",
        "--conf-file",
        str(uai_project / "conf.json"),
    )
    assert result.returncode == 1
    assert "--uhub-password is refused" in result.stderr and "hunter2" not in result.stdout + result.stderr
