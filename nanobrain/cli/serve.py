"""`nanobrain serve`: the HTTP server, or a reloading one in development."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from nanobrain.cli import settings as cli
from nanobrain.cli.options import (
    ConfigOption,
    DataDirOption,
    ProfileOption,
    TargetsArgument,
    console,
    fail,
)
from nanobrain.config import ConfigError, load_settings
from nanobrain.observability.logs import configure_logging
from nanobrain.serving import check_startup, registry_of

TARGETS_ENV = "NANOBRAIN_SERVE_TARGETS"
RELOAD_FACTORY = "nanobrain.cli.serve:app_from_environment"


def serve(
    targets: TargetsArgument = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    data_dir: DataDirOption = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve workflows over HTTP (the bundled examples when no target is given)."""
    server_flags = {"host": host, "port": port}
    settings = cli.settings(
        config, profile, data_dir, web_interface={"server_config": server_flags}
    )
    try:
        check_startup(settings)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    registry = cli.registry(targets, settings)
    configure_logging(settings.web_interface.monitoring.log_level)
    server = settings.web_interface.server_config
    scheme = "https" if settings.web_interface.ssl_config.enabled else "http"
    console.print(
        f"[bold]NanoBrain[/] serving {len(registry.workflows)} workflows, "
        f"{len(registry.tools)} tools, {len(registry.agents)} agents at "
        f"{scheme}://{server.host}:{server.port} "
        f"(profile {settings.profile}, data in {settings.data_dir})"
    )
    if reload or server.reload:
        import uvicorn

        from nanobrain.web.server import uvicorn_options

        os.environ[TARGETS_ENV] = json.dumps(targets or [])
        _export_settings_env(config, profile, data_dir, server_flags)
        uvicorn.run(RELOAD_FACTORY, factory=True, reload=True, **uvicorn_options(settings))
        return
    from nanobrain.web.server import serve as serve_app

    serve_app(settings, registry)


def _export_settings_env(
    config: Path | None, profile: str | None, data_dir: Path | None, server: dict[str, Any]
) -> None:
    """Hand the command's choices to the reloading child process through the environment."""
    if config:
        os.environ["NANOBRAIN_CONFIG"] = str(config.resolve())
    if profile:
        os.environ["NANOBRAIN_PROFILE"] = profile
    if data_dir:
        os.environ["NANOBRAIN_DATA_DIR"] = str(data_dir.resolve())
    for key, value in server.items():
        if value is not None:
            os.environ[f"NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__{key.upper()}"] = str(value)


def app_from_environment() -> Any:
    """The app as configured by the environment (used by `serve --reload`)."""
    from nanobrain.web.app import create_app

    settings = load_settings()
    # a fresh process: the parent's set-up is not inherited
    configure_logging(settings.web_interface.monitoring.log_level)
    targets = json.loads(os.environ.get(TARGETS_ENV, "[]"))
    return create_app(settings, registry_of(targets, settings))
