"""The configuration and the registry as the command line chooses them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nanobrain.cli.options import fail
from nanobrain.config import ConfigError, Settings, load_settings
from nanobrain.core.errors import RegistrationError
from nanobrain.core.registry import Registry
from nanobrain.serving import check_storage, registry_of


def cli_overrides(data_dir: Path | None, **more: Any) -> dict[str, Any]:
    """The overrides a command's flags make (`--data-dir` and whatever else it takes)."""
    return {"data_dir": str(data_dir) if data_dir else None, **more}


def settings(
    config: Path | None,
    profile: str | None,
    data_dir: Path | None = None,
    **overrides: Any,
) -> Settings:
    """The configuration, with the command's flags on top; a problem ends the command."""
    try:
        return load_settings(
            config_file=config, profile=profile, overrides=cli_overrides(data_dir, **overrides)
        )
    except ConfigError as exc:
        raise fail(str(exc)) from None


def registry(targets: list[str] | None, settings: Settings) -> Registry:
    """What the targets register (none: `workflows` from the settings, else the examples)."""
    try:
        return registry_of(targets or [], settings)
    except RegistrationError as exc:
        raise fail(str(exc)) from None


def storage_usable(settings: Settings) -> None:
    """The configured encryption keys must be able to serve the data already stored."""
    try:
        check_storage(settings)
    except ConfigError as exc:
        raise fail(str(exc)) from None
