"""Files derived from a single source (the server's knob table, the framework registry) are current."""

from devtools import generate


def test_every_generated_file_matches_its_source():
    assert generate.stale() == [], "run `python -m devtools.generate` and commit the result"


def test_the_schema_invoke_yaml_and_readme_name_every_knob():
    from httpserver.config import knob_specs

    for output in generate.KNOB_OUTPUTS:
        text = output.current()
        missing = [spec.name for spec in knob_specs() if spec.name not in text]
        assert missing == [], f"{output.path.name} lacks {missing}"


def test_the_template_offers_every_template_framework_of_the_registry_and_each_gets_its_pins():
    import json

    from uai import frameworks

    choices = json.loads((generate.ROOT / "cookiecutter.json").read_text())["framework"]
    assert tuple(choices) == frameworks.TEMPLATE_FRAMEWORKS and choices[0] == "self"
    keras = generate.TEMPLATE / "_frameworks" / "keras" / "requirements.txt"
    pins = [line for line in keras.read_text().splitlines() if line and not line.startswith("#")]
    assert pins == list(frameworks.get("keras").packages)
