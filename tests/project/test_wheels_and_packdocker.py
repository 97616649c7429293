"""The wheelhouse cache and UAI's packdocker parameters."""

import dataclasses
import json

import pytest
from uaipack import UserError, wheels
from uaipack.packdocker import PackRequest, pack_project, pack_settings


def test_requirement_lines_drop_comments_and_blank_lines(tmp_path):
    (tmp_path / "r.txt").write_text("# comment\n\nDjango==5.2.19  # web\nnumpy==2.4.6\n")
    assert wheels.requirement_lines(tmp_path / "r.txt") == ["Django==5.2.19", "numpy==2.4.6"]


def test_pip_is_asked_for_the_targets_version_abis_and_every_platform():
    target = wheels.Target("3.11", "cp", ("cp311", "abi3"), ("manylinux_2_36_x86_64", "linux_x86_64"))
    arguments = target.pip_arguments()
    assert arguments[:4] == ["--python-version", "3.11", "--implementation", "cp"]
    assert arguments.count("--abi") == 2 and arguments.count("--platform") == 2


def test_a_complete_wheelhouse_is_reused_without_running_pip(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    target = wheels.Target("3.11", "cp", ("cp311",), ("linux_x86_64",))
    first = wheels.wheelhouse([], target)
    monkeypatch.setattr(wheels.subprocess, "run", lambda *a, **k: pytest.fail("pip ran again"))
    assert wheels.wheelhouse([], target) == first


def test_a_requirement_without_a_wheel_suggests_a_networked_build(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    target = wheels.Target("3.11", "cp", ("cp311",), ("linux_x86_64",))
    fake = type("Result", (), {"returncode": 1, "stderr": "ERROR: No matching distribution found for x"})
    monkeypatch.setattr(wheels.subprocess, "run", lambda *a, **k: fake)
    with pytest.raises(UserError, match=r"No matching distribution.*invoke build --network"):
        wheels.wheelhouse(["x==1"], target)
    assert not list((tmp_path / "uaipack" / "wheels").iterdir())


def test_packdocker_self_maps_uai_parameters_onto_the_settings(settings):
    request = PackRequest(
        "self", bimg_name="base:2", uhub_registry="team", uhub_imagename="svc:v2", uhub_username="bob"
    )
    chosen = pack_settings(request, settings)
    assert (chosen.base_image, chosen.namespace, chosen.image_name, chosen.username) == (
        "base:2",
        "team",
        "svc:v2",
        "bob",
    )


def test_packdocker_self_refuses_the_framework_form_parameters(settings):
    with pytest.raises(UserError, match="takes its conf from --conf-file"):
        pack_settings(PackRequest("self", main_class="X"), settings)


def test_an_ai_arch_v_in_the_settings_picks_that_base_image(settings):
    request = PackRequest("caffe", ai_arch_v="caffe-1.0.0", main_class="M", main_module="m")
    chosen = pack_settings(request, dataclasses.replace(settings, base_images={"caffe-1.0.0": "c:1"}))
    assert (chosen.base_image, chosen.packages) == ("c:1", ())


def test_an_unknown_ai_arch_v_is_refused_naming_the_known_ones(settings):
    with pytest.raises(UserError, match=r"--ai-arch-v 'nothing-9'.*use one of"):
        pack_settings(PackRequest("caffe", ai_arch_v="nothing-9"), settings)


def test_the_framework_form_writes_the_conf_from_its_parameters(settings, project):
    for name in ("digits.prototxt", "digits.caffemodel"):
        (project.code_dir / "checkpoint_dir" / name).write_text("x")
    request = PackRequest(
        "caffe", main_class="MnistModel", main_module="mnist_inference", model_name="digits"
    )
    packed = pack_project(request, pack_settings(request, settings), project.root)
    conf = json.loads(packed.conf_path.read_text())
    caffe = conf["http_server"]["caffe"]
    assert (caffe["model_dir"], caffe["model_name"], caffe["pixel_std"]) == ("./checkpoint_dir", "digits", 1)
    assert packed.conf_path.is_file() and packed.conf_path.parent.name == ".uaipack"


def test_a_pack_file_path_that_is_not_a_folder_is_named(settings, project):
    with pytest.raises(UserError, match="--pack-file-path /nope is not a folder"):
        pack_project(PackRequest("self", pack_file_path="/nope"), settings, project.root)
