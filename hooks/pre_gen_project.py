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


def is_module_path(value: str) -> bool:
    return all(is_identifier(part) for part in value.split(".")) and not value.endswith(".py")


def is_folder_under_code(value: str) -> bool:
    return all(
        FILE_PART.match(part) and part not in (".", "..") for part in value.removeprefix("./").split("/")
    )


# answer -> (its check, what is allowed); in prompt order.
CHECKS = {
    "project_slug": (
        SLUG.match,
        "use lower-case letters, digits and single dashes, starting with a letter "
        "(change project_name, or set project_slug)",
    ),
    "main_class": (
        is_identifier,
        "it must be a Python class name such as MnistModel (letters, digits, _; not starting with a digit)",
    ),
    "main_file": (
        is_module_path,
        "it must be an importable module path such as mnist_inference or models.mnist (no .py)",
    ),
    "model_dir": (is_folder_under_code, "it must be a relative folder under code/ such as checkpoint_dir"),
    "model_name": (FILE_PART.match, "it must be a file name without folders such as mnist_model"),
    "base_image": (BASE_IMAGE.match, "it must be a Docker image reference such as python:3.11-slim"),
    "registry": (REGISTRY.match, "it must be a registry host such as uhub.ucloud.cn or 127.0.0.1:5000"),
    "internal_registry": (REGISTRY.match, "it must be a registry host such as uhub.service.ucloud.cn"),
    "namespace": (
        NAMESPACE.match,
        "Docker allows lower-case letters, digits and single . _ - separators, such as uai_demo",
    ),
    "image_name": (IMAGE_NAME.match, "it must be name:tag in lower case, such as mnist-inference:test"),
}


def problems(answers: dict) -> list[str]:
    """Every bad answer as one sentence; an empty list means all answers are good."""
    return [
        f"{key} {answers[key]!r} is not allowed: {allowed}."
        for key, (ok, allowed) in CHECKS.items()
        if not ok(answers[key])
    ]


def main() -> int:
    found = problems(ANSWERS)
    for sentence in found:
        print(f"ERROR: {sentence}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
