"""Helpers of the server tests that test modules import (conftest is not importable by name)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path


def write_project(root: Path, module_source: str, conf: dict, files: dict[str, str] | None = None) -> Path:
    """A UAI project folder: code/<main_file>.py, extra files, conf.json; returns the conf path."""
    code = root / "code"
    code.mkdir(parents=True, exist_ok=True)
    main_file = conf["http_server"]["exec"]["main_file"]
    (code / f"{main_file.replace('.', '/')}.py").write_text(textwrap.dedent(module_source))
    for name, text in (files or {}).items():
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        (code / name).write_text(text)
    conf_file = root / "conf.json"
    conf_file.write_text(json.dumps(conf))
    return conf_file
