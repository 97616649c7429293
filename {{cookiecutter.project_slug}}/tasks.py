"""This model service's tasks: `invoke --list`, `invoke <task> --help`.

Thin on purpose: the logic lives in uaipack/ beside this file. Settings come from
invoke.yaml (the `uai` section), INVOKE_UAI_* environment variables, then flags.
"""

import sys
from pathlib import Path

from invoke import Exit, task
from uaipack import conf as confs
from uaipack import exit_on_user_error, pipeline
from uaipack.catalogue import with_arch
from uaipack.packdocker import PackRequest, pack_project, pack_settings
from uaipack.settings import Project, Settings

ROOT = Path(__file__).resolve().parent
PROJECT = Project.at(ROOT)
PASSWORD_HELP = "refused: a password flag shows in the process list; use UHUB_PASSWORD or --password-stdin"


def user_task(*args, **kwargs):
    """@task whose UserError becomes one line and exit 1, never a traceback."""
    return lambda body: task(*args, **kwargs)(exit_on_user_error(body))


ARCH_HELP = (
    "UAI's ai_arch_v: the base image (and packages) of this uai.base_images key, "
    "else of this catalogue entry (`invoke base-images`)"
)


def settings(c, ai_arch_v=None, **flags) -> Settings:
    """This run's settings: invoke.yaml and INVOKE_UAI_* with the task's flags on top, read once.

    A flag left off (None, or a switch left False) keeps the configured value.
    """
    given = {name: value for name, value in flags.items() if value is not None and value is not False}
    return with_arch(Settings.from_config(c.config.get("uai"), **given), ai_arch_v)


@user_task(help={"check": "validate this hand-written conf file instead of writing conf.json"})
def conf(c, check=None):
    """Write conf.json from the settings and check it (schema, module, class, model files)."""
    if check:
        confs.load_conf(Project.at(ROOT, conf_path=check))
        print(f"{check} is valid")
    else:
        confs.write_conf(settings(c), PROJECT)
        print(f"wrote {PROJECT.conf_path.name} and checked it")


@user_task(
    help={
        "network": "let the build reach the package index (for packages that publish no wheel)",
        "in_host": "tag for the internal registry (uai.internal_registry)",
        "no_cache": "run every Dockerfile step again instead of reusing cached layers",
        "ai_arch_v": ARCH_HELP,
    }
)
def build(c, network=False, in_host=False, no_cache=False, ai_arch_v=None):
    """Build the image: conf, wheels for the base image's Python, then docker build (no network)."""
    chosen = settings(c, network_build=network, in_host=in_host, no_cache=no_cache, ai_arch_v=ai_arch_v)
    pipeline.build_step(chosen, PROJECT)


@user_task(
    name="smoke-test",
    help={
        "timeout": "seconds to wait for /readyz (uai.startup_timeout_s)",
        "in_host": "test the image tagged for the internal registry",
    },
)
def smoke_test(c, timeout=None, in_host=False):
    """Run the image on 127.0.0.1, send samples/, check the answers; always removes the container."""
    pipeline.smoke_step(settings(c, startup_timeout_s=timeout, in_host=in_host), PROJECT)


@user_task(
    auto_shortflags=False,
    help={
        "skip_checks": "push the image as it is, without build and smoke-test first",
        "in_host": "push to the internal registry (uai.internal_registry) instead",
        "password_stdin": "read the registry password from standard input",
        "username": "registry user (else uai.username, else UHUB_USERNAME)",
        "network": "let the build reach the package index",
        "uhub_password": PASSWORD_HELP,
    },
)
def push(
    c,
    skip_checks=False,
    in_host=False,
    password_stdin=False,
    username=None,
    network=False,
    uhub_password=None,
):
    """Build, smoke-test and push the image; prints UAI's success line and the digest."""
    pipeline.refuse_password_flag(uhub_password)
    chosen = settings(
        c, in_host=in_host, password_stdin=password_stdin, username=username, network_build=network
    )
    if skip_checks:
        print("skipping build and smoke-test (--skip-checks): pushing the image as it is")
        pipeline.push_step(chosen, project=PROJECT)
    else:
        pipeline.publish(chosen, PROJECT)


@user_task(help={"port": "port on 127.0.0.1 (default 8080)"})
def serve(c, port=8080):
    """Run the server on the host without Docker, reloading when code/ changes."""
    from uaipack.serve import serve as run_server

    confs.ensure_conf(settings(c), PROJECT)
    raise Exit(code=run_server(PROJECT, int(port)))


@user_task()
def test(c):
    """Run this project's unit tests (tests/): load the class from conf.json, execute the samples."""
    confs.ensure_conf(settings(c), PROJECT)
    c.run(
        f"{sys.executable} -m unittest discover --start-directory tests --top-level-directory . -v", pty=False
    )


@user_task(
    help={
        "check": "only check: exit 1 while the template has newer commits (for this project's CI)",
        "template": "a local clone of the template to use instead of the recorded location (offline)",
        "checkout": "upgrade to this branch, tag or commit of the template instead of its newest",
    }
)
def upgrade(c, check=False, template=None, checkout=None):
    """Bring in the template's later changes: runtime updated, your files kept, conflicts shown."""
    from uaipack import upgrade as upgrades

    if check:
        commit = upgrades.require_current(ROOT, template, checkout)
        print(f"current: this project follows its template's newest commit ({commit[:12]})")
    else:
        upgrades.report(upgrades.upgrade(ROOT, template, checkout))


@user_task(name="base-image", help={"rebuild": "build it again even if the engine has it"})
def base_image(c, rebuild=False):
    """Build the local Debian Python base image (localhost/uai-base/python:3.11-bookworm)."""
    from uaipack.baseimage import ensure_base_image

    ensure_base_image(rebuild=rebuild)


@user_task(name="base-images", help={"device": "cpu, gpu, or all (default)"})
def base_images(c, device="all"):
    """The catalogue of framework base images that --ai-arch-v picks from (UAI's ai_arch_v)."""
    from uaipack import catalogue

    print(catalogue.render_table(device))


@user_task(
    positional=["framework"],
    auto_shortflags=False,
    help={
        "framework": "self (your conf file) or a framework (caffe, keras, ...: the conf is written for you)",
        "bimg_name": "base image (else the one --ai-arch-v names, else uai.base_image)",
        "pack_file_path": "the code folder to pack (default: code/ of this project)",
        "conf_file": "self: your conf.json (default: this project's, written from invoke.yaml)",
        "uhub_username": "registry user (else uai.username, else UHUB_USERNAME)",
        "uhub_registry": "registry namespace (uai.namespace)",
        "uhub_imagename": "image name:tag (uai.image_name)",
        "in_host": "push to the internal registry (uai.internal_registry)",
        "main_class": "framework form: the inference class",
        "main_module": "framework form: the module that holds it",
        "model_dir": "framework form: model folder, relative to the code folder",
        "model_name": "framework form: model file name without extension",
        "ai_arch_v": ARCH_HELP,
        "password_stdin": "read the registry password from standard input",
        "network": "let the build reach the package index",
        "uhub_password": PASSWORD_HELP,
    },
)
def packdocker(
    c,
    framework,
    bimg_name=None,
    pack_file_path=None,
    conf_file=None,
    uhub_username=None,
    uhub_registry=None,
    uhub_imagename=None,
    in_host=False,
    main_class=None,
    main_module=None,
    model_dir=None,
    model_name=None,
    ai_arch_v=None,
    password_stdin=False,
    network=False,
    uhub_password=None,
):
    """UAI's one-shot command: conf (if needed), build, smoke-test, push."""
    pipeline.refuse_password_flag(uhub_password)
    request = PackRequest(
        framework,
        bimg_name,
        pack_file_path,
        conf_file,
        uhub_username,
        uhub_registry,
        uhub_imagename,
        main_class,
        main_module,
        model_dir,
        model_name,
        ai_arch_v,
    )
    chosen = pack_settings(
        request, settings(c, in_host=in_host, password_stdin=password_stdin, network_build=network)
    )
    pipeline.publish(chosen, pack_project(request, chosen, ROOT))


# --- deployment: manifests for Kubernetes and Swarm, and the Swarm tasks (uaipack.manifests, uaipack.swarm)


@user_task(help={"force": "overwrite files you edited too (default: keep them, write <file>.new beside)"})
def manifests(c, force=False):
    """Write deploy/ (Kubernetes base and overlays, Swarm stack) from invoke.yaml and the last push."""
    from uaipack import manifests as writer
    from uaipack.deployment import deployment

    chosen = deployment(settings(c), PROJECT)
    outcomes = writer.write_manifests(chosen, PROJECT.root / "deploy", force=force)
    writer.report(outcomes, chosen, PROJECT.root)


PASSWORD_STDIN_HELP = "read the registry password from stdin (else UHUB_PASSWORD, else Docker's stored login)"
USERNAME_HELP = "registry user (else uai.username, else UHUB_USERNAME)"
TIMEOUT_HELP = "seconds to wait for Swarm to converge (default: from uai.startup_timeout_s)"
LOGIN_HELP = {"password_stdin": PASSWORD_STDIN_HELP, "username": USERNAME_HELP}


def swarm_stack(c, **flags):
    from uaipack.stack import Stack

    return Stack(settings(c, **flags), PROJECT)


def seconds(value):
    return float(value) if value else None


@user_task(help={**LOGIN_HELP, "timeout": TIMEOUT_HELP})
def deploy(c, password_stdin=False, username=None, timeout=None):
    """Deploy deploy/swarm/stack.yml to this engine's swarm and wait until its tasks serve."""
    stack = swarm_stack(c, password_stdin=password_stdin, username=username)
    with stack.login() as env:
        stack.deploy(env, seconds(timeout))


@user_task(
    help={
        "image": "image to roll out (default: uai.deploy.image, else the last push's digest)",
        **LOGIN_HELP,
        "timeout": TIMEOUT_HELP,
    }
)
def update(c, image=None, password_stdin=False, username=None, timeout=None):
    """Roll the stack to a new image one task at a time and wait; a failed update is rolled back."""
    stack = swarm_stack(c, password_stdin=password_stdin, username=username)
    with stack.login() as env:
        stack.update(image, env, seconds(timeout))


@user_task(positional=["replicas"], help={"replicas": "how many tasks serve", "timeout": TIMEOUT_HELP})
def scale(c, replicas, timeout=None):
    """Scale the stack's model service to REPLICAS tasks and wait until they serve."""
    swarm_stack(c).scale(int(replicas), seconds(timeout))


@user_task(
    help={
        "weight": "percent of the tasks (so of the requests) that run the canary; 0 ends it",
        "image": "the canary's image (default: uai.deploy.canary_image, else the last push's digest)",
        **LOGIN_HELP,
    }
)
def canary(c, weight, image=None, password_stdin=False, username=None):
    """Run a canary image on a share of the stack's tasks (UAI's gray release); --weight 0 ends it."""
    stack = swarm_stack(c, password_stdin=password_stdin, username=username)
    with stack.login() as env:
        stack.canary(int(weight), image, env)


@user_task()
def undeploy(c):
    """Remove the stack from this engine's swarm (docker stack rm)."""
    swarm_stack(c).remove()
