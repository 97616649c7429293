"""Validate the answers before anything is written.

On a bad answer: print ONE sentence naming the answer, its value and what is allowed, then
exit 1 (cookiecutter then removes the half-made folder). The answers are read as JSON data,
never pasted into Python source, so no answer can inject code into this hook. Choice answers
(framework, all_one_file, model_arch_type) are checked by cookiecutter itself, before this hook.
"""

import json
import keyword
import re
import sys

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SLUG = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
# Docker's reference grammar (distribution/reference). Built by concatenation, not f-strings:
# this file is a Jinja template, and regex braces must not meet either syntax.
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = COMPONENT + r"(?:/" + COMPONENT + r")*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
HOST = LABEL + r"(?:\." + LABEL + r")*(?::[0-9]+)?"
NAMESPACE = re.compile("^" + REPOSITORY + "$")
IMAGE_NAME = re.compile("^" + REPOSITORY + ":" + TAG + "$")
REGISTRY = re.compile("^" + HOST + "$")
BASE_IMAGE = re.compile("^(?:" + HOST + "/)?" + REPOSITORY + "(?::" + TAG + r")?(?:@sha256:[a-f0-9]{64})?$")
FILE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def is_identifier(value: str) -> bool:
    return bool(IDENTIFIER.match(value)) and not keyword.iskeyword(value)


def problems(answers: dict) -> list[str]:
    """Every bad answer as one sentence; an empty list means all answers are good."""
    found = []

    def check(key: str, ok: bool, allowed: str) -> None:
        if not ok:
            found.append(f"{key} {answers[key]!r} is not allowed: {allowed}.")

    check(
        "project_slug",
        bool(SLUG.match(answers["project_slug"])),
        "use lower-case letters, digits and single dashes, starting with a letter "
        "(change project_name, or set project_slug)",
    )
    check(
        "main_class",
        is_identifier(answers["main_class"]),
        "it must be a Python class name such as MnistModel (letters, digits, _; not starting with a digit)",
    )
    check(
        "main_file",
        all(is_identifier(part) for part in answers["main_file"].split("."))
        and not answers["main_file"].endswith(".py"),
        "it must be an importable module path such as mnist_inference or models.mnist (no .py)",
    )
    check(
        "model_dir",
        all(
            FILE_PART.match(part) and part not in (".", "..")
            for part in answers["model_dir"].removeprefix("./").split("/")
        ),
        "it must be a relative folder under code/ such as checkpoint_dir",
    )
    check(
        "model_name",
        bool(FILE_PART.match(answers["model_name"])),
        "it must be a file name without folders such as mnist_model",
    )
    check(
        "base_image",
        bool(BASE_IMAGE.match(answers["base_image"])),
        "it must be a Docker image reference such as python:3.11-slim",
    )
    check(
        "registry",
        bool(REGISTRY.match(answers["registry"])),
        "it must be a registry host such as uhub.ucloud.cn or 127.0.0.1:5000",
    )
    check(
        "internal_registry",
        bool(REGISTRY.match(answers["internal_registry"])),
        "it must be a registry host such as uhub.service.ucloud.cn",
    )
    check(
        "namespace",
        bool(NAMESPACE.match(answers["namespace"])),
        "Docker allows lower-case letters, digits and single . _ - separators, such as uai_demo",
    )
    check(
        "image_name",
        bool(IMAGE_NAME.match(answers["image_name"])),
        "it must be name:tag in lower case, such as mnist-inference:test",
    )
    return found


def main() -> int:
    found = problems(ANSWERS)
    for sentence in found:
        print(f"ERROR: {sentence}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
