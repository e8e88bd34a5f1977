"""Serving from Python: `nanobrain.serve(...)` and `nanobrain.create_app(...)`.

Both take what `nanobrain serve` takes: targets (workflow functions, agents, modules, registries,
or import paths and YAML files as on the command line; none: `workflows` from the settings, else
the bundled examples) and settings as keyword arguments (`web_interface__server_config__port=8001`
or `web_interface={"server_config": {"port": 8001}}`) over the configuration files and the
environment. The command line uses the same checks and the same server.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from nanobrain.config import ConfigError, Settings, load_settings
from nanobrain.config.loading import nest
from nanobrain.core.registry import Registry, discover
from nanobrain.observability.logs import configure_logging

DEFAULT_TARGETS = ["nanobrain.examples"]


def create_app(
    *targets: Any,
    config_file: Path | str | None = None,
    profile: str | None = None,
    **settings: Any,
) -> ASGIApp:
    """An ASGI app serving `targets`, to mount or run under any ASGI server. Its lifespan
    starts and stops the runtime (migrations, recovery, executions)."""
    from nanobrain.web.app import create_app as create_web_app

    loaded = settings_from(config_file, profile, settings)
    return create_web_app(loaded, registry_of(targets, loaded))


def serve(
    *targets: Any,
    config_file: Path | str | None = None,
    profile: str | None = None,
    **settings: Any,
) -> None:
    """Serve `targets` as `nanobrain serve` does, until a signal stops the server."""
    from nanobrain.web.server import serve as run_server

    loaded = settings_from(config_file, profile, settings)
    check_startup(loaded)
    registry = registry_of(targets, loaded)
    configure_logging(loaded.web_interface.monitoring.log_level)
    run_server(loaded, registry)


def settings_from(
    config_file: Path | str | None, profile: str | None, settings: Mapping[str, Any]
) -> Settings:
    """The configuration with `settings` (keyword arguments, nested by `__`) on top."""
    return load_settings(
        Path(config_file) if config_file is not None else None,
        profile,
        overrides=nest(settings),
    )


def registry_of(targets: tuple[Any, ...] | list[Any], settings: Settings) -> Registry:
    """A registry of `targets` (import paths as the command line takes them, or the objects
    themselves), plus the `nanobrain.workflows` entry points; validated."""
    if not targets:
        return discover(settings.workflows or DEFAULT_TARGETS)
    paths = [target for target in targets if isinstance(target, str)]
    registry = discover(paths) if paths else discover([])
    for target in targets:
        if not isinstance(target, str):
            registry.add(target, source="nanobrain.serve")
    registry.validate()
    return registry


def check_startup(settings: Settings) -> None:
    """What the server refuses to start with, as a `ConfigError`: an API without authentication
    beyond loopback, a production profile with weak settings, encryption keys that cannot read
    the data already stored."""
    from nanobrain.security.deployment import production_problems
    from nanobrain.security.exposure import exposure_problem

    exposure = exposure_problem(settings)
    if exposure:
        raise ConfigError(exposure)
    problems = production_problems(settings)
    if problems:
        raise ConfigError(
            "the production profile refuses to start:\n  " + "\n  ".join(problems), problems
        )
    check_storage(settings)


def check_storage(settings: Settings) -> None:
    """The configured encryption keys must be able to serve the data already stored."""
    from nanobrain.crypto.keyring import KeyRing
    from nanobrain.store.encrypted_blobs import open_blob_store
    from nanobrain.store.key_manifest import StorageKeyError

    try:
        open_blob_store(settings.files_dir, KeyRing.from_secrets(settings.storage.encryption_keys))
    except StorageKeyError as exc:
        raise ConfigError(f"stored data: {exc}") from None
