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
from uaipack import deployment  # noqa: E402  (the deployment settings' table)


@dataclasses.dataclass(frozen=True)
class Output:
    """A generated part of `path`: between `start` and `end` marker lines, or a JSON key path."""

    path: Path
    produce: Callable[[], str | object]
    start: str | None = None
    end: str | None = None
    json_key: tuple[str, ...] = ()

    def current(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def wanted(self) -> str:
        """The file's whole text with its generated part as the source says it should be."""
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


OUTPUTS = (
    Output(
        TEMPLATE / "uaipack" / "conf.schema.json", config.server_schema, json_key=("properties", "server")
    ),
    Output(TEMPLATE / "invoke.yaml", knob_yaml, "  server:", "  # --- end of the server knobs"),
    Output(TEMPLATE / "invoke.yaml", deploy_yaml, "  deploy:", "  # --- end of the deployment settings"),
    Output(TEMPLATE / "server" / "README.md", knob_table, "<!-- knobs:start -->", "<!-- knobs:end -->"),
)


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
