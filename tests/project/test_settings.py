"""Settings: invoke's `uai` section into one typed object."""

import dataclasses

import pytest
from uaipack import UserError
from uaipack.settings import SERVER_DEFAULTS, Project, Settings


def test_flags_override_the_config_and_none_flags_do_not():
    settings = Settings.from_config(
        {"registry": "r.example:5000", "namespace": "a"}, namespace="b", registry=None
    )
    assert (settings.registry, settings.namespace) == ("r.example:5000", "b")


def test_an_unknown_setting_is_named_with_the_known_ones():
    with pytest.raises(UserError, match=r"uai\.regsitry.*registry"):
        Settings.from_config({"regsitry": "x"})


def test_server_knobs_keep_defaults_for_keys_not_given():
    settings = Settings.from_config({"server": {"max_batch_size": 8}})
    assert settings.server == {**SERVER_DEFAULTS, "max_batch_size": 8}


def test_the_image_reference_is_registry_namespace_name_with_latest_when_untagged():
    settings = Settings.from_config(
        {
            "registry": "127.0.0.1:5000",
            "internal_registry": "inner:80",
            "namespace": "demo",
            "image_name": "mnist",
        }
    )
    assert settings.image_reference() == "127.0.0.1:5000/demo/mnist:latest"
    assert dataclasses.replace(settings, in_host=True).image_reference() == "inner:80/demo/mnist:latest"


def test_an_upper_case_namespace_is_refused_as_registries_are():
    with pytest.raises(UserError, match="upper-case"):
        Settings.from_config({"registry": "r", "namespace": "Demo", "image_name": "m:1"}).image_reference()


def test_a_missing_internal_registry_names_the_setting_to_set():
    with pytest.raises(UserError, match="uai.internal_registry"):
        Settings.from_config(
            {"registry": "r", "namespace": "d", "image_name": "m:1"}, in_host=True
        ).image_reference()


@pytest.mark.parametrize(
    ("text", "expected"), [("yes", True), ("no", False), ("True", True), ("0", False), ("on", True)]
)
def test_yes_no_settings_become_booleans(text, expected):
    assert Settings.from_config({"network_build": text, "all_one_file": text}).network_build is expected


def test_a_setting_that_is_not_yes_or_no_is_refused_naming_it():
    with pytest.raises(UserError, match=r"uai\.network_build is 'maybe'; use yes or no"):
        Settings.from_config({"network_build": "maybe"})


def test_the_tools_the_server_and_uai_read_yes_no_with_one_parser():
    from httpserver import config
    from uai import frameworks, values
    from uaipack import settings

    assert settings.yes_no is config.yes_no is frameworks.yes_no is values.yes_no
    assert [values.yes_no(word) for word in ("Y", " On ", "1", True)] == [True] * 4
    assert [values.yes_no(word) for word in ("n", "OFF", "0", "", None, False)] == [False] * 6
    with pytest.raises(ValueError, match="'2' is not yes or no"):
        values.yes_no("2")


def test_numbers_from_the_environment_become_numbers():
    settings = Settings.from_config({"startup_timeout_s": "30", "push_attempts": "5"})
    assert (settings.startup_timeout_s, settings.push_attempts) == (30.0, 5)


def test_the_old_name_smoke_timeout_s_still_sets_the_startup_time():
    assert Settings.from_config({"smoke_timeout_s": 45}).startup_timeout_s == 45


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"push_attempts": 0}, "uai.push_attempts is 0; it must be at least 1"),
        ({"startup_timeout_s": "0"}, "uai.startup_timeout_s is 0; give the model more than 0 s"),
        ({"push_attempts": "three"}, "uai.push_attempts is 'three'; use a number"),
    ],
)
def test_a_number_setting_out_of_range_is_refused_in_one_line(setting, says):
    with pytest.raises(UserError, match=says) as refused:
        Settings.from_config(setting)
    assert "\n" not in str(refused.value)


def test_flags_not_given_keep_the_configured_value():
    settings = Settings.from_config(
        {"network_build": True, "username": "me"}, network_build=None, username=None
    )
    assert (settings.network_build, settings.username) == (True, "me")


def test_a_project_with_its_own_conf_file_uses_it_as_it_is(tmp_path):
    assert Project.at(tmp_path).writes_conf
    given = Project.at(tmp_path, conf_path=tmp_path / "mine.json", samples_dir=None)
    assert not given.writes_conf and given.samples_dir is None
