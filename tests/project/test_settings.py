"""Settings: invoke's `uai` section into one typed object."""

import pytest
from uaipack import UserError
from uaipack.settings import SERVER_DEFAULTS, Settings, as_bool


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
    assert settings.image_reference(in_host=True) == "inner:80/demo/mnist:latest"


def test_an_upper_case_namespace_is_refused_as_registries_are():
    with pytest.raises(UserError, match="upper-case"):
        Settings.from_config({"registry": "r", "namespace": "Demo", "image_name": "m:1"}).image_reference()


def test_a_missing_internal_registry_names_the_setting_to_set():
    with pytest.raises(UserError, match="uai.internal_registry"):
        Settings.from_config({"registry": "r", "namespace": "d", "image_name": "m:1"}).image_reference(
            in_host=True
        )


@pytest.mark.parametrize(("text", "expected"), [("yes", True), ("no", False), ("True", True), ("0", False)])
def test_yes_no_answers_become_booleans(text, expected):
    assert as_bool(text) is expected


def test_a_value_that_is_not_yes_or_no_is_refused():
    with pytest.raises(UserError, match="yes or no"):
        as_bool("maybe")
