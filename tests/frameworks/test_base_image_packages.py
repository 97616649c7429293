"""The packages of the base image are usable: user code imports what the base image's python3
has, requirements it satisfies are not reinstalled, the server keeps its own packages apart."""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
import uuid
from pathlib import Path

import docker
import pytest
import requests
from uaipack.packages import (
    code_imports,
    hidden_by_server,
    imports_from_base,
    split_requirements,
    wheels_to_install,
)
from uaipack.wheels import BasePython, Distribution, Target

from frameworks.baseimages import with_debian_packages

TARGET = Target("3.11", "cp", ("cp311",), ("linux_x86_64",))
PROVIDED = re.compile(
    r"the base image provides \d+ requirement\(s\), not reinstalled: (.*?) \(([\d.]+ [kMG]B)\)"
)
BASE = BasePython(
    TARGET,
    (
        Distribution("numpy", "2.4.6", 30_000_000, ("numpy",)),
        Distribution("Pillow", "9.4.0", 3_000_000, ("PIL",)),
        Distribution("Django", "3.2.19", 40_000_000, ("django",)),
    ),
)
#: Debian bookworm's: Pillow 9.4 (the host venv has another), and server packages at other versions.
DEBIAN_PACKAGES = ["python3-pil", "python3-django", "python3-uvicorn"]
UAI_CODE = """
import json

import django
import PIL
from PIL import Image
from uai.arch.base_model import AiUcloudModel


class MnistModel(AiUcloudModel):
    def execute(self, data, batch_size):
        answers = []
        for i in range(batch_size):
            image = Image.open(data[i])  # as UAI's examples read requests
            answers.append(json.dumps({"size": list(image.size), "pil": PIL.__version__,
                                       "pil_file": PIL.__file__, "django": django.__version__}))
        return answers
"""


def test_a_requirement_the_base_image_satisfies_is_provided_and_one_it_does_not_is_installed():
    split = split_requirements(
        ["numpy>=2", "Pillow==13.0.0", "django[argon2]==3.2.19", "scipy==1.16.0"], BASE
    )

    assert [item.requirement for item in split.provided] == ["numpy>=2"]
    assert split.install == ("Pillow==13.0.0", "django[argon2]==3.2.19", "scipy==1.16.0")
    assert split.provided_bytes == 30_000_000


def test_a_resolved_dependency_the_base_image_has_at_that_version_is_not_installed_again(tmp_path):
    resolved = [
        tmp_path / name for name in ("numpy-2.4.6-cp311-none-any.whl", "scipy-1.16.0-cp311-none-any.whl")
    ]

    install, reused = wheels_to_install(resolved, BASE)

    assert [wheel.name for wheel in install] == ["scipy-1.16.0-cp311-none-any.whl"]
    assert [dist.name for dist in reused] == ["numpy"]


def test_the_server_packages_that_hide_the_base_images_are_named(tmp_path):
    server = [tmp_path / "django-5.2.19-py3-none-any.whl", tmp_path / "gunicorn-23.0.0-py3-none-any.whl"]
    assert [(dist.name, version) for dist, version in hidden_by_server(server, BASE)] == [
        ("Django", "5.2.19")
    ]


def test_code_imports_are_matched_to_the_base_images_distributions(tmp_path):
    (tmp_path / "helpers.py").write_text("import os\n")
    (tmp_path / "main.py").write_text(
        "import helpers, uai.arch\nfrom PIL import Image\nimport numpy.linalg\n"
    )

    imports = code_imports(tmp_path)

    assert imports == {"PIL", "numpy"}
    assert {module: dist.name for module, dist in imports_from_base(imports, BASE).items()} == {
        "PIL": "Pillow",
        "numpy": "numpy",
    }


@pytest.fixture
def uai_project(tmp_path):
    """A UAI `packdocker self` project: code/ with a module importing PIL, conf.json beside; no
    requirements file (UAI projects had none: the base image held the packages)."""
    code = tmp_path / "uai-project" / "code"
    code.mkdir(parents=True)
    (code / "mnist_inference.py").write_text(UAI_CODE)
    conf = {"http_server": {"exec": {"main_class": "MnistModel", "main_file": "mnist_inference"}}}
    (code.parent / "conf.json").write_text(json.dumps(conf))
    return code.parent


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (28, 28), 200).save(out, "PNG")
    return out.getvalue()


def build_and_serve(packer: Path, uai_project: Path, base: str, capsys, docker_client):
    """packdocker self's build of the UAI project on `base`; returns (build output, answer to a PNG,
    what python3 outside the server imports), the container and image removed."""
    from uaipack.packdocker import PackRequest, pack_project, pack_settings
    from uaipack.pipeline import build_step
    from uaipack.settings import Settings

    name = f"base-packages-{uuid.uuid4().hex[:8]}"
    request = PackRequest(
        "self",
        bimg_name=base,
        pack_file_path=str(uai_project / "code"),
        conf_file=str(uai_project / "conf.json"),
    )
    settings = pack_settings(
        request, Settings(registry="localhost", namespace="uaipack-test", image_name=f"{name}:v1")
    )
    reference = settings.image_reference()
    try:
        build_step(settings, pack_project(request, settings, packer))  # no network in the build
        output = " ".join(capsys.readouterr().out.split())
        outside = docker_client.containers.run(
            reference,
            ["python3", "-c", "import django, uvicorn; print(django.__version__, uvicorn.__version__)"],
            remove=True,
        )
        return output, serve_one(docker_client, reference, png()), outside.decode().split()
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):  # a failed build made none
            docker_client.images.remove(reference, force=True, noprune=True)


def serve_one(docker_client, reference: str, body: bytes) -> dict:
    from uaipack.registry import free_port

    port = free_port()
    container = docker_client.containers.run(reference, detach=True, ports={"8080/tcp": ("127.0.0.1", port)})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or reset while it starts
                pass
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            time.sleep(0.2)
        answer = requests.post(f"http://127.0.0.1:{port}/service", data=body, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()
    finally:
        container.remove(force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_a_uai_project_imports_the_base_images_packages_and_the_server_keeps_its_own(
    tmp_path, uai_project, base_image, docker_client, capsys
):
    from bakery import bake

    base = with_debian_packages(base_image, DEBIAN_PACKAGES)
    packer = bake(tmp_path / "packer", project_name="packer")  # the tool; the UAI project lives outside
    capsys.readouterr()

    output, answer, outside = build_and_serve(packer, uai_project, base, capsys, docker_client)

    # User code sees the base image's Pillow (Debian's, in its system Python), with no requirements file.
    assert "code/ imports from the base image: PIL (Pillow 9.4.0)" in output
    assert answer["size"] == [28, 28] and answer["pil"] == "9.4.0"
    assert answer["pil_file"].startswith("/usr/lib/python3/dist-packages/")
    # The server runs on its own Django though the base image has an older one ...
    assert answer["django"] == "5.2.19"
    assert "the server's Django 5.2.19 hides the base image's 3.2.25" in output
    # ... and the base image's python3 outside the server still has its own Django and uvicorn.
    assert outside == ["3.2.25", "0.17.6"]

    # A requirement the base image does not satisfy is installed and wins over its version.
    (packer / "requirements.txt").write_text("Pillow==13.0.0\n")
    output, answer, _ = build_and_serve(packer, uai_project, base, capsys, docker_client)
    assert "installing 1 requirement(s) the base image lacks: Pillow==13.0.0" in output
    assert answer["pil"] == "13.0.0" and answer["pil_file"].startswith("/opt/uai/packages/")


@pytest.mark.docker
@pytest.mark.slow
def test_a_framework_base_image_with_onnxruntime_in_its_system_python_is_not_reinstalled(
    tmp_path, base_image, docker_client
):
    from uai import frameworks

    from frameworks.baseimages import with_python_packages
    from frameworks.conftest import bake_with_model

    onnx = frameworks.get("onnx")
    framework_base = with_python_packages(base_image, list(onnx.packages))  # as tensorflow/tensorflow is made
    baked = bake_with_model(tmp_path, "onnx")
    tag = f"localhost/uaipack-test/onnx-on-framework-base:{uuid.uuid4().hex[:8]}"
    settings = {
        "INVOKE_UAI_BASE_IMAGE": framework_base,
        "INVOKE_UAI_NAMESPACE": "uaipack-test",
        "INVOKE_UAI_IMAGE_NAME": tag.split("/")[-1],
    }

    def invoke(*arguments):
        result = baked.invoke(*arguments, env=settings)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return " ".join(result.stdout.split())

    try:
        assert invoke("conf")
        output = invoke("build")
        smoke = invoke("smoke-test")  # the digits, PNG and JPEG, on the framework's own onnxruntime
        packages = docker_client.containers.run(tag, ["ls", "/opt/uai/packages"], remove=True)
    finally:
        docker_client.images.remove(tag, force=True, noprune=True)

    provided = PROVIDED.search(output)
    assert provided, output
    assert all(package in provided.group(1) for package in onnx.packages)
    assert packages.decode().split() == []  # nothing installed twice
    assert "digit-0" in smoke and "smoke test passed" in smoke
    print(f"\n[figure] onnx framework base image: {provided.group(2)} not reinstalled ({provided.group(1)})")


def test_the_build_names_an_import_that_neither_the_base_image_nor_the_requirements_provide(tmp_path, capsys):
    import zipfile

    from uaipack.packages import ModelPackages, Resolved, report_imports

    wheel = tmp_path / "django-5.2.19-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("django/__init__.py", "")
        archive.writestr("django-5.2.19.dist-info/METADATA", "")
    resolved = Resolved(BASE, (), ModelPackages((), ()), server_wheels=(wheel,))

    report_imports(resolved, {"PIL", "django", "torch"})

    output = " ".join(capsys.readouterr().out.split())
    assert "code/ imports from the base image: PIL (Pillow 9.4.0)" in output
    assert "note: code/ imports torch, which neither the base image nor requirements.txt provides" in output
