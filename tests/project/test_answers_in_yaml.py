"""Answers reach invoke.yaml as YAML string literals: words YAML would read as a bool, a null or a
number (`on`, `no`, `null`, `1e3`, `~`) are either refused by the hook in one line or baked as the
very string given, as the project's settings read it."""

from __future__ import annotations

import pytest
from bakery import bake
from cookiecutter.exceptions import FailedHookException

# The free-text answers invoke.yaml holds, and how the setting names each.
ANSWER_SETTINGS = {
    "main_class": "main_class",
    "main_file": "main_file",
    "model_dir": "model_dir",
    "model_name": "model_name",
    "base_image": "base_image",
    "registry": "registry",
    "internal_registry": "internal_registry",
    "namespace": "namespace",
    "image_name": "image_name",
}
YAML_WORDS = ["on", "no", "null", "1e3", "~"]


def baked_settings(project):
    from invoke import Config
    from uaipack.settings import Settings

    config = Config(project_location=str(project))
    config.load_project()
    return Settings.from_config(config.get("uai"))


def refused_answers(output_dir, answers, capfd) -> set[str]:
    """Bake with these answers; the answers the hook refuses (each in one line), or none."""
    try:
        bake(output_dir, **answers)
    except FailedHookException:
        lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
        for line in lines:
            key = line.split()[1]
            assert line.startswith(f"ERROR: {key} {answers[key]!r} is not allowed: "), line
        assert not output_dir.exists() or list(output_dir.iterdir()) == []  # nothing written
        return {line.split()[1] for line in lines}
    return set()


@pytest.mark.parametrize("word", YAML_WORDS)
def test_a_yaml_word_as_an_answer_is_refused_in_one_line_or_kept_as_that_string(tmp_path, capfd, word):
    refused = refused_answers(tmp_path / "every", dict.fromkeys(ANSWER_SETTINGS, word), capfd)
    assert refused <= set(ANSWER_SETTINGS)
    accepted = [answer for answer in ANSWER_SETTINGS if answer not in refused]
    if not accepted:
        return
    settings = baked_settings(bake(tmp_path / "accepted", **dict.fromkeys(accepted, word)))
    for answer in accepted:
        expected = f"./{word}" if answer == "model_dir" else word
        assert getattr(settings, ANSWER_SETTINGS[answer]) == expected, answer


def test_the_words_the_hook_accepts_include_on_and_no_where_a_name_is_asked(tmp_path):
    project = bake(tmp_path, main_class="on", namespace="no", model_name="null", registry="1e3")
    settings = baked_settings(project)
    assert (settings.main_class, settings.namespace, settings.model_name, settings.registry) == (
        "on",
        "no",
        "null",
        "1e3",
    )


def test_a_yes_no_setting_from_the_environment_means_what_it_says(tmp_path, monkeypatch):
    from invoke import Config
    from uaipack.settings import Settings

    project = bake(tmp_path)
    for text, expected in (("no", False), ("yes", True), ("0", False), ("on", True)):
        monkeypatch.setenv("INVOKE_UAI_NETWORK_BUILD", text)
        config = Config(project_location=str(project))
        config.load_project()
        config.load_shell_env()
        assert Settings.from_config(config.get("uai")).network_build is expected
