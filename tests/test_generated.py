"""Files derived from a single source (the server's knob table, ...) are current."""

from devtools import generate


def test_every_generated_file_matches_its_source():
    assert generate.stale() == [], "run `python -m devtools.generate` and commit the result"


def test_the_schema_invoke_yaml_and_readme_name_every_knob():
    from httpserver.config import knob_specs

    for output in generate.OUTPUTS:
        text = output.current()
        missing = [spec.name for spec in knob_specs() if spec.name not in text]
        assert missing == [], f"{output.path.name} lacks {missing}"
