"""Files derived from the project's single sources, rewritten here and checked by a test.

Each `Output` names a file and the part of it that is generated (the whole file, a JSON
key, or the lines between two markers), and the function that produces that part from
its one source (the server's knob table, ...). `python -m devtools.generate` rewrites
every output; `--check` (and tests/test_generated.py) fails when one is stale.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "{{cookiecutter.project_slug}}"
sys.path.insert(0, str(TEMPLATE / "server"))
sys.path.insert(0, str(TEMPLATE))

from httpserver import config  # noqa: E402  (the knob table; imports no Django)
from uai import frameworks  # noqa: E402  (the framework registry; imports no framework)
from uaipack import deployment  # noqa: E402  (the deployment settings' table)


@dataclasses.dataclass(frozen=True)
class Output:
    """A generated part of `path`: between `start` and `end` marker lines, a JSON key path,
    or (with neither) the whole file."""

    path: Path
    produce: Callable[[], str | object]
    start: str | None = None
    end: str | None = None
    json_key: tuple[str, ...] = ()

    def current(self) -> str:
        return self.path.read_text(encoding="utf-8") if self.path.is_file() else ""

    def wanted(self) -> str:
        """The file's whole text with its generated part as the source says it should be."""
        if self.start is None and not self.json_key:
            return str(self.produce())
        text = self.current()
        if self.json_key:
            document = json.loads(text)
            holder = document
            for key in self.json_key[:-1]:
                holder = holder[key]
            holder[self.json_key[-1]] = self.produce()
            return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        head, found, rest = text.partition(self.start + "\n")
        if not found or self.end not in rest:
            raise SystemExit(f"{self.path}: the markers {self.start!r} ... {self.end!r} are missing")
        tail = rest[rest.index(self.end) :]
        return head + self.start + "\n" + str(self.produce()) + tail


def knob_yaml() -> str:
    """invoke.yaml's `server:` block: every knob at its default, its help as the comment."""
    lines = []
    for spec in config.knob_specs():
        value = config.knob_defaults()[spec.name]
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        lines.append(f"    # {spec.help.replace('`', '')}")
        lines.append(f"    {spec.name}: {shown}")
    return "\n".join(lines) + "\n"


def deploy_yaml() -> str:
    """invoke.yaml's `deploy:` block: every deployment setting at its default, its help as the comment."""
    lines = []
    for spec in deployment.setting_specs():
        lines.append(f"    # {spec.metadata['help']}")
        lines.append(f"    {spec.name}: {json.dumps(spec.default)}")
    return "\n".join(lines) + "\n"


def knob_table() -> str:
    """The server README's table of knobs."""
    rows = ["| knob | meaning | default | environment |", "|---|---|---|---|"]
    for spec in config.knob_specs():
        default = config.knob_defaults()[spec.name]
        rows.append(f"| `{spec.name}` | {spec.help} | {json.dumps(default)} | `{spec.env_name}` |")
    return "\n".join(rows) + "\n"


REQUIREMENTS_HEADER = """\
# The model's own Python packages, installed into the image (pinned, one per line).
# They are resolved on the host for the base image's Python into a wheelhouse and
# installed offline, so each needs a wheel for linux (or use `invoke build --network`).
# A requirement the base image's own python3 already satisfies is neither downloaded nor
# installed again (the build says which); the server's own packages are kept apart.
#
"""


def framework_requirements(framework: frameworks.Framework) -> str:
    """A framework's requirements.txt: the header, why these packages, then its pins."""
    if not framework.packages:
        example = (
            f"# A self-defined model in pure Python needs none. Add yours, e.g.:\n# {frameworks.NUMPY}\n"
        )
        return REQUIREMENTS_HEADER + example
    note = "".join(f"# {line}\n" for line in framework.packages_note.splitlines())
    return (
        f"{REQUIREMENTS_HEADER}{note}"
        "# These are CPU-only builds; `invoke base-images` lists the GPU variants. Add what\n"
        "# your code imports, with its version.\n" + "".join(f"{package}\n" for package in framework.packages)
    )


def section_schema(framework: frameworks.Framework) -> dict:
    """The conf schema of a framework section: its keys, their types and meanings."""
    schema: dict = {"type": "object"}
    required = [key.name for key in framework.keys if key.required]
    if required:
        schema["required"] = required
    schema["properties"] = {key.name: {**key.schema, "description": key.help} for key in framework.keys}
    return schema


def conf_key_table(framework: frameworks.Framework) -> str:
    """A framework README's table of its conf section's keys, defaults and meanings."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in framework.keys:
        default = (
            "required" if key.required else "-" if key.default is None else f"`{json.dumps(key.default)}`"
        )
        written = " (`invoke conf` writes it)" if key.written and not key.required else ""
        rows.append(f"| `{key.name}` | {default} | {key.help}{written} |")
    return "\n".join(rows) + "\n"


def framework_outputs() -> tuple[Output, ...]:
    """cookiecutter.json's choices, the schema's framework sections, each framework's requirements."""
    schema = TEMPLATE / "uaipack" / "conf.schema.json"
    sections = ("properties", "http_server", "properties")
    outputs = [
        Output(
            ROOT / "cookiecutter.json", lambda: list(frameworks.TEMPLATE_FRAMEWORKS), json_key=("framework",)
        )
    ]
    for framework in frameworks.REGISTRY.values():
        if framework.name != "self":  # a self-defined section is free-form
            outputs.append(
                Output(schema, lambda f=framework: section_schema(f), json_key=(*sections, framework.name))
            )
        if framework.template:  # self's is the project's default requirements.txt
            folder = TEMPLATE if framework.name == "self" else TEMPLATE / "_frameworks" / framework.name
            requirements = folder / "requirements.txt"
            outputs.append(Output(requirements, lambda f=framework: framework_requirements(f)))
        readme = TEMPLATE / "_frameworks" / framework.name / "README.framework.md"
        if readme.is_file():
            marks = ("<!-- conf-keys:start -->", "<!-- conf-keys:end -->")
            outputs.append(Output(readme, lambda f=framework: conf_key_table(f), *marks))
    return tuple(outputs)


KNOB_OUTPUTS = (
    Output(
        TEMPLATE / "uaipack" / "conf.schema.json", config.server_schema, json_key=("properties", "server")
    ),
    Output(TEMPLATE / "invoke.yaml", knob_yaml, "  server:", "  # --- end of the server knobs"),
    Output(TEMPLATE / "invoke.yaml", deploy_yaml, "  deploy:", "  # --- end of the deployment settings"),
    Output(TEMPLATE / "server" / "README.md", knob_table, "<!-- knobs:start -->", "<!-- knobs:end -->"),
)
OUTPUTS = (*KNOB_OUTPUTS, *framework_outputs())


def stale() -> list[Path]:
    """The outputs whose generated part differs from what their source gives."""
    return [output.path for output in OUTPUTS if output.current() != output.wanted()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    arguments = parser.parse_args(argv)
    if arguments.check:
        for path in stale():
            print(f"stale: {path.relative_to(ROOT)} (run `python -m devtools.generate`)")
        return 1 if stale() else 0
    for output in OUTPUTS:
        wanted = output.wanted()
        if wanted != output.current():
            output.path.write_text(wanted, encoding="utf-8")
            print(f"rewrote {output.path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
