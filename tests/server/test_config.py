"""httpserver.config: the conf file and the server knobs with their environment overrides."""

import json

import pytest
from httpserver import config
from httpserver.config import ConfError, ServerSettings, server_settings


def test_a_uai_conf_without_a_server_section_gets_the_documented_defaults():
    settings = server_settings({"http_server": {}}, environ={})
    assert settings == ServerSettings()
    assert (settings.max_batch_size, settings.max_latency_ms, settings.max_body_bytes) == (
        32,
        2.0,
        16 * 1024 * 1024,
    )


def test_environment_variables_override_the_conf_server_section():
    conf = {"http_server": {}, "server": {"max_batch_size": 8, "max_latency_ms": 0, "workers": 2}}
    settings = server_settings(conf, environ={"UAI_MAX_BATCH_SIZE": "4", "UAI_QUEUE_SIZE": "10"})
    assert (settings.max_batch_size, settings.queue_size, settings.max_latency_ms, settings.workers) == (
        4,
        10,
        0,
        2,
    )


@pytest.mark.parametrize(
    ("conf", "environ", "fragment"),
    [
        ({"server": {"max_batch_size": "many"}}, {}, "server.max_batch_size = 'many' is not a whole number"),
        ({"server": {"max_batch_sise": 4}}, {}, "server.max_batch_sise is not a knob"),
        ({}, {"UAI_WORKERS": "0"}, "server.workers = 0 is too small"),
        ({}, {"UAI_MAX_LATENCY_MS": "soon"}, "UAI_MAX_LATENCY_MS = 'soon' is not a number"),
    ],
)
def test_a_bad_knob_is_one_line_naming_the_key(conf, environ, fragment):
    with pytest.raises(ConfError) as raised:
        server_settings(conf, environ=environ)
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_the_conf_path_is_resolved_against_the_server_root_unless_absolute(tmp_path):
    assert config.conf_path({"UAI_SERVICE_CONFIG": "conf.json"}) == config.SERVER_ROOT / "conf.json"
    assert config.conf_path({"UAI_SERVICE_CONFIG": str(tmp_path / "c.json")}) == tmp_path / "c.json"
    with pytest.raises(ConfError, match="UAI_SERVICE_CONFIG is not set"):
        config.conf_path({})


def test_an_unreadable_or_malformed_conf_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfError, match="cannot read it"):
        config.read_conf(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ConfError, match="not valid JSON"):
        config.read_conf(tmp_path / "bad.json")
    (tmp_path / "empty.json").write_text(json.dumps({"exec": {}}))
    with pytest.raises(ConfError, match="no 'http_server' object"):
        config.read_conf(tmp_path / "empty.json")


def test_the_conf_schema_accepts_every_server_knob_and_uaipack_writes_the_server_defaults():
    """The schema `invoke conf` checks with and the defaults uaipack writes come from the table."""
    import json

    from bakery import TEMPLATE
    from uaipack.settings import SERVER_DEFAULTS

    schema = json.loads((TEMPLATE / "uaipack" / "conf.schema.json").read_text())
    knobs = {spec.name: spec.default for spec in config.knob_specs()}
    assert set(schema["properties"]["server"]["properties"]) == set(knobs)
    assert knobs == SERVER_DEFAULTS


def test_a_yes_no_knob_reads_the_usual_words_and_refuses_others():
    assert config._convert("on", bool, "UAI_X") is True and config._convert("0", bool, "UAI_X") is False
    with pytest.raises(ConfError, match="UAI_X = 'maybe' is not true or false"):
        config._convert("maybe", bool, "UAI_X")
