"""The image build: the rendered Dockerfile, the staged context, labels (no engine needed)."""

import subprocess

import pytest
from uaipack import build
from uaipack.conf import write_conf


def render(project, network=False):
    return build.render_dockerfile(
        project, "base:1", network, {"a.label": 'quote " inside'}, startup_timeout_s=120
    )


def test_the_dockerfile_installs_offline_by_default_and_from_the_index_when_asked(project):
    assert "--no-index --no-deps" in render(project) and "/tmp/wheels/server/*.whl" in render(project)
    assert "--no-index" not in render(project, network=True)


def test_layers_go_from_packages_to_server_to_model_to_code_to_conf(project):
    text = render(project)
    order = ["COPY --from=packages /opt/uai", "COPY server/", "COPY model/", "COPY code/", "COPY conf.json"]
    positions = [text.index(line) for line in order]
    assert positions == sorted(positions)


def test_the_service_runs_as_a_non_root_user_with_a_healthcheck_and_labels_last(project):
    text = render(project)
    assert "USER 10001:0" in text and "EXPOSE 8080" in text and "HEALTHCHECK" in text
    assert text.rstrip().splitlines()[-1] == 'LABEL a.label="quote \\" inside"'


def test_the_context_splits_model_files_from_code_and_leaves_caches_out(
    settings, project, no_package_resolution
):
    (project.code_dir / "checkpoint_dir" / "weights.bin").write_bytes(b"w")
    (project.code_dir / "__pycache__").mkdir()
    (project.code_dir / "__pycache__" / "x.pyc").write_bytes(b"")
    conf = write_conf(settings, project)
    context = build.stage_context(settings, project, conf, network=False)
    assert (context / "model" / "checkpoint_dir" / "weights.bin").is_file()
    assert not (context / "code" / "checkpoint_dir").exists()
    assert (context / "code" / "mnist_inference.py").is_file()
    assert not (context / "code" / "__pycache__").exists()
    assert not (context / "server" / "requirements.txt").exists()
    assert (context / "uaiservice.Dockerfile").read_text() == project.dockerfile.read_text()
    assert (context / "bin" / "gunicorn").stat().st_mode & 0o111  # the start command


def test_the_source_label_never_carries_credentials_of_the_git_remote(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "remote",
            "add",
            "origin",
            "https://bob:tok3n@git.example.com:8443/team/model.git",
        ],
        check=True,
    )
    assert build.git_source(tmp_path) == "https://git.example.com:8443/team/model.git"


def test_labels_name_the_conf_digest_the_framework_and_the_runtime(settings, project):
    from httpserver.version import VERSION

    conf = write_conf(settings, project)
    labels = build.image_labels(settings, project, conf)
    assert labels["ai.uaipack.framework"] == "self"
    assert labels["ai.uaipack.conf.digest"].startswith("sha256:")
    assert labels["org.opencontainers.image.title"] == "mnist:v1"
    assert labels[build.RUNTIME_VERSION_LABEL] == VERSION
    assert labels[build.RUNTIME_COMMIT_LABEL]


@pytest.mark.parametrize(
    ("server", "limit"), [({"max_body_bytes": 1024}, "1024"), (None, str(16 * 1024 * 1024))]
)
def test_the_body_limit_label_is_the_one_the_conf_gives_the_server(settings, project, server, limit):
    conf = write_conf(settings, project)
    if server is None:
        del conf["server"]  # a UAI conf: the server runs on its default
    else:
        conf["server"].update(server)
    assert build.image_labels(settings, project, conf)[build.BODY_LIMIT_LABEL] == limit
