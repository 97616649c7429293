"""Settings: the `uai` section of invoke's configuration, read once into a typed object.

invoke merges `invoke.yaml`, then `INVOKE_UAI_*` environment variables, then the task's
flags; tasks pass the flags they got as overrides. No setting ever holds a password.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uaipack import UserError

LOCAL_BASE_IMAGE = "localhost/uai-base/python:3.11-bookworm"

SERVER_DIR = Path(__file__).resolve().parents[1] / "server"


def _server_knob_defaults() -> dict[str, Any]:
    """The server's knob defaults, from its own table (`httpserver.config`, which imports no Django)."""
    if str(SERVER_DIR) not in sys.path:
        sys.path.insert(0, str(SERVER_DIR))
    from httpserver.config import knob_defaults

    return knob_defaults()


SERVER_DEFAULTS = _server_knob_defaults()


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the tasks need to know, with invoke's precedence already applied."""

    framework: str = "self"
    main_class: str = "MnistModel"
    main_file: str = "mnist_inference"
    model_dir: str = "./checkpoint_dir"
    model_name: str = "mnist_model"
    all_one_file: bool = False
    model_arch_type: str = "json"
    base_image: str = LOCAL_BASE_IMAGE
    registry: str = ""
    internal_registry: str = ""
    namespace: str = ""
    image_name: str = ""
    username: str = ""
    network_build: bool = False
    startup_timeout_s: float = 120.0  # how long the model may take to load (smoke test, probes)
    push_attempts: int = 3
    server: Mapping[str, int] = dataclasses.field(default_factory=lambda: dict(SERVER_DEFAULTS))
    deploy: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # typed by uaipack.deployment
    base_images: Mapping[str, str] = dataclasses.field(default_factory=dict)
    packages: tuple[str, ...] = ()  # added to requirements.txt (set by packdocker --ai-arch-v)

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, **overrides: Any) -> Settings:
        """Settings from invoke's `uai` section; overrides that are None are ignored."""
        values = dict(section or {})
        values.update({key: value for key, value in overrides.items() if value is not None})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(
                f"invoke.yaml has unknown setting(s) uai.{', uai.'.join(unknown)}; "
                f"remove them or use one of: {', '.join(sorted(known))}."
            )
        values["all_one_file"] = as_bool(values.get("all_one_file", False))
        values["network_build"] = as_bool(values.get("network_build", False))
        values["server"] = {**SERVER_DEFAULTS, **dict(values.get("server") or {})}
        values["deploy"] = dict(values.get("deploy") or {})
        values["base_images"] = dict(values.get("base_images") or {})
        values["packages"] = tuple(values.get("packages") or ())
        return cls(**values)

    def registry_host(self, in_host: bool = False) -> str:
        """The registry to push to: the public one, or the internal one with --in-host."""
        host = self.internal_registry if in_host else self.registry
        if not host:
            which = "internal_registry" if in_host else "registry"
            raise UserError(
                f"no registry is set; set uai.{which} in invoke.yaml or INVOKE_UAI_{which.upper()}."
            )
        return host

    def image_reference(self, in_host: bool = False) -> str:
        """`<registry>/<namespace>/<name>:<tag>`, as UAI names images."""
        if not self.namespace or not self.image_name:
            raise UserError("the image has no name; set uai.namespace and uai.image_name in invoke.yaml.")
        if self.namespace != self.namespace.lower():
            raise UserError(
                f"the namespace {self.namespace!r} has upper-case letters; registries allow lower case only."
            )
        name = self.image_name if has_tag(self.image_name) else f"{self.image_name}:latest"
        return f"{self.registry_host(in_host)}/{self.namespace}/{name}"


def as_bool(value: Any) -> bool:
    """A yes/no setting as a bool; accepts the cookiecutter answers "yes"/"no" and env strings."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"yes", "y", "true", "1", "on"}:
        return True
    if text in {"no", "n", "false", "0", "off", ""}:
        return False
    raise UserError(f"{value!r} is not a yes/no value; use yes or no.")


@dataclasses.dataclass(frozen=True)
class Project:
    """Where a model service project keeps its parts; packdocker may point code and conf elsewhere."""

    root: Path
    code_dir: Path
    conf_path: Path

    @classmethod
    def at(
        cls, root: Path | str, code_dir: Path | str | None = None, conf_path: Path | str | None = None
    ) -> Project:
        root = Path(root).resolve()
        return cls(
            root=root,
            code_dir=Path(code_dir).resolve() if code_dir else root / "code",
            conf_path=Path(conf_path).resolve() if conf_path else root / "conf.json",
        )

    @property
    def server_dir(self) -> Path:
        return self.root / "server"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def requirements(self) -> Path:
        return self.root / "requirements.txt"

    @property
    def dockerfile_template(self) -> Path:
        return self.root / "uaiservice.Dockerfile.j2"

    @property
    def dockerfile(self) -> Path:
        return self.root / "uaiservice.Dockerfile"

    @property
    def work_dir(self) -> Path:
        """Generated, disposable state (the staged build context); ignored by git."""
        return self.root / ".uaipack"


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; the tag defaults to latest."""
    if has_tag(reference):
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, "latest"


def has_tag(reference: str) -> bool:
    """True when the reference's last path part has a tag (a registry port is not one)."""
    return ":" in reference.rsplit("/", 1)[-1]
