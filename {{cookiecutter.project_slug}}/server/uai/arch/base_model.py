"""`AiUcloudModel`: the base every UAI inference class derives from.

The constructor keeps the whole conf as `self.conf`, turns its framework section into
attributes (`self.model_dir`, `self.model_name`, `self.model_arch_file`, ...; absolute
paths resolved from the code root, see `uai.frameworks`), creates `self.output = {}` for
state, checks that the model files the section names exist, and calls `self.load_model()`;
a value it returns is kept as `self.model`. Subclasses write `load_model` and `execute`.
"""

from __future__ import annotations

from pathlib import Path

from uai import frameworks


class MissingModelFiles(FileNotFoundError):
    """The conf names model files that are not there; the message is one line for the user."""


class AiUcloudModel:
    """Base inference class; `framework` names the conf section it reads (None: find it)."""

    framework: str | None = None

    def __init__(self, conf: dict, model_type: str | None = None, code_root: Path | str | None = None):
        self.conf = conf
        self.output: dict = {}
        self.model = None
        http_server = (conf or {}).get("http_server") or {}
        found_type, found_section = frameworks.framework_section(http_server)
        self.model_type = model_type or self.framework or found_type
        if self.model_type == found_type or self.model_type == "self":
            self.section: dict = found_section
        else:
            self.section = http_server.get(self.model_type) or {}
        self.code_root = Path(code_root) if code_root else frameworks.default_code_root()
        self._parse_section()
        self._check_model_files()
        loaded = self.load_model()
        if loaded is not None:
            self.model = loaded

    def _parse_section(self) -> None:
        # Plain keys first (model_name, num_epoch, input, ...), then the resolved paths.
        for key, value in self.section.items():
            if not hasattr(type(self), key):
                setattr(self, key, value)
        for key, value in frameworks.model_paths(self.model_type, self.section, self.code_root).items():
            setattr(self, key, value)

    def _check_model_files(self) -> None:
        message = frameworks.missing_files_message(self.model_type, self.section, self.code_root)
        if message:
            raise MissingModelFiles(message)

    def load_model(self):
        """Load the model from the paths set above; a returned value becomes `self.model`."""
        return None

    def execute(self, data: list, batch_size: int) -> list:
        """Answer a batch: `data` holds `batch_size` file-like inputs; return one result each."""
        raise NotImplementedError(f"{type(self).__name__} must define execute(self, data, batch_size)")
