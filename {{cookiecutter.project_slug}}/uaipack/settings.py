"""Settings: the `uai` section of invoke's configuration, read once into a typed object.

invoke merges `invoke.yaml`, then `INVOKE_UAI_*` environment variables, then the task's
flags; tasks pass the flags they got as overrides. No setting ever holds a password.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uaipack import UserError, server_module

LOCAL_BASE_IMAGE = "localhost/uai-base/python:3.11-bookworm"
SERVER_DEFAULTS = server_module("httpserver.config").knob_defaults()  # the server's own knob table
yes_no = server_module("uai.values").yes_no  # the one yes/no parser, shared with the server


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
    # Choices of one run, given as task flags (invoke.yaml may set them too):
    in_host: bool = False  # use uai.internal_registry (the provider's inner network) for the image
    no_cache: bool = False  # build every Dockerfile step again
    password_stdin: bool = False  # the registry password comes on standard input

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, **overrides: Any) -> Settings:
        """Settings from invoke's `uai` section; overrides (the task's flags) that are None are ignored."""
        values = dict(section or {})
        if "smoke_timeout_s" in values:  # its name before it also set the probes' startup time
            values.setdefault("startup_timeout_s", values.pop("smoke_timeout_s"))
        values.update({key: value for key, value in overrides.items() if value is not None})
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise UserError(
                f"invoke.yaml has unknown setting(s) uai.{', uai.'.join(unknown)}; "
                f"remove them or use one of: {', '.join(sorted(fields))}."
            )
        for name, value in values.items():
            values[name] = _typed(name, fields[name].type, value)
        values["server"] = {**SERVER_DEFAULTS, **dict(values.get("server") or {})}
        values["deploy"] = dict(values.get("deploy") or {})
        values["base_images"] = dict(values.get("base_images") or {})
        values["packages"] = tuple(values.get("packages") or ())
        return cls(**values)

    def __post_init__(self) -> None:
        if self.push_attempts < 1:
            raise UserError(
                f"uai.push_attempts is {self.push_attempts}; it must be at least 1 (tries per push)."
            )
        if self.startup_timeout_s <= 0:
            raise UserError(
                f"uai.startup_timeout_s is {self.startup_timeout_s:g}; give the model more than 0 s to load."
            )

    def registry_host(self) -> str:
        """The registry to push to: the public one, or the internal one with --in-host."""
        host = self.internal_registry if self.in_host else self.registry
        if not host:
            which = "internal_registry" if self.in_host else "registry"
            raise UserError(
                f"no registry is set; set uai.{which} in invoke.yaml or INVOKE_UAI_{which.upper()}."
            )
        return host

    def image_reference(self) -> str:
        """`<registry>/<namespace>/<name>:<tag>`, as UAI names images."""
        if not self.namespace or not self.image_name:
            raise UserError("the image has no name; set uai.namespace and uai.image_name in invoke.yaml.")
        if self.namespace != self.namespace.lower():
            raise UserError(
                f"the namespace {self.namespace!r} has upper-case letters; registries allow lower case only."
            )
        name = self.image_name if has_tag(self.image_name) else f"{self.image_name}:latest"
        return f"{self.registry_host()}/{self.namespace}/{name}"


_NUMBERS = {"int": int, "float": float}


def _typed(name: str, kind: str, value: Any) -> Any:
    """A setting as its field's type: yes/no words for bools, numbers from environment strings."""
    try:
        if kind == "bool":
            return yes_no(value)
        if kind in _NUMBERS and not isinstance(value, bool):
            return _NUMBERS[kind](value)
    except (TypeError, ValueError):
        wanted = "yes or no" if kind == "bool" else f"a number ({kind})"
        raise UserError(f"uai.{name} is {value!r}; use {wanted}.") from None
    return value


def _under_root(relative: str, doc: str) -> property:
    """A read-only attribute of a Project: this path under its root."""
    return property(lambda project: project.root / relative, doc=doc)


@dataclasses.dataclass(frozen=True)
class Project:
    """Where a model service project keeps its parts (packdocker may point code, conf, samples elsewhere)."""

    root: Path
    code_dir: Path
    conf_path: Path
    samples_dir: Path | None  # None: no samples (code packed from elsewhere, with none beside it)
    writes_conf: bool = True  # conf.json follows the settings; False: the conf at conf_path is used as it is

    @classmethod
    def at(
        cls,
        root: Path | str,
        code_dir: Path | str | None = None,
        conf_path: Path | str | None = None,
        samples_dir: Path | str | None = "samples",
    ) -> Project:
        """The project at `root`; a given conf_path is used as it is, never rewritten from the settings."""
        root = Path(root).resolve()
        return cls(
            root=root,
            code_dir=Path(code_dir).resolve() if code_dir else root / "code",
            conf_path=Path(conf_path).resolve() if conf_path else root / "conf.json",
            samples_dir=root / samples_dir if samples_dir is not None else None,
            writes_conf=conf_path is None,
        )

    # The parts every project has at the same place under its root.
    server_dir = _under_root("server", "the server runtime the image runs")
    requirements = _under_root("requirements.txt", "the model's own pinned packages")
    dockerfile_template = _under_root("uaiservice.Dockerfile.j2", "the image, as the user may edit it")
    dockerfile = _under_root("uaiservice.Dockerfile", "the image as rendered at build")
    work_dir = _under_root(
        ".uaipack", "generated, disposable state (the staged build context); ignored by git"
    )


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; the tag defaults to latest."""
    if has_tag(reference):
        repository, tag = reference.rsplit(":", 1)
        return repository, tag
    return reference, "latest"


def has_tag(reference: str) -> bool:
    """True when the reference's last path part has a tag (a registry port is not one)."""
    return ":" in reference.rsplit("/", 1)[-1]
