"""The `nanobrain` command: serve, worker, run, workflows, users, keys, db."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nanobrain.config import ConfigError, Settings, load_settings
from nanobrain.core import jsoncodec
from nanobrain.core.errors import RegistrationError
from nanobrain.core.registry import Registry, discover
from nanobrain.store.private import private_directory

if TYPE_CHECKING:
    from nanobrain.crypto.keyring import KeyRing
    from nanobrain.store.rotation import RotationReport

DEFAULT_TARGETS = ["nanobrain.examples"]
TARGETS_ENV = "NANOBRAIN_SERVE_TARGETS"

app = typer.Typer(
    help="NanoBrain: a web presence for any typed async workflow.", no_args_is_help=True
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
keys_app = typer.Typer(help="Encryption keys for data at rest.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (or NANOBRAIN_CONFIG).")
]
ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="development or production (or NANOBRAIN_PROFILE)."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Database and files (or NANOBRAIN_DATA_DIR).")
]
TargetsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Import paths (pkg.module, pkg.module:attr, file.py) or YAML files."),
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def _settings(config: Path | None, profile: str | None, overrides: dict[str, Any]) -> Settings:
    try:
        return load_settings(config_file=config, profile=profile, overrides=overrides)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _registry(targets: list[str] | None, settings: Settings) -> Registry:
    chosen = targets or settings.workflows or DEFAULT_TARGETS
    try:
        return discover(chosen)
    except RegistrationError as exc:
        raise _fail(str(exc)) from None


def _check_exposure(settings: Settings) -> None:
    """Without authentication everyone is admin, so only loopback may be served."""
    server = settings.web_interface.server_config
    if settings.web_interface.auth_config.enabled:
        return
    host = server.host
    if not _is_loopback(host):
        raise _fail(
            f"web_interface.server_config.host is {host!r} but web_interface.auth_config.enabled "
            "is false: without authentication NanoBrain only listens on a loopback address"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_production(settings: Settings) -> None:
    from nanobrain.security.deployment import production_problems

    problems = production_problems(settings)
    if problems:
        raise _fail("the production profile refuses to start:\n  " + "\n  ".join(problems))


def _check_storage(settings: Settings) -> None:
    """The configured encryption keys must be able to serve the data already stored."""
    from nanobrain.crypto.keyring import KeyRing
    from nanobrain.store.encrypted_blobs import open_blob_store
    from nanobrain.store.key_manifest import StorageKeyError

    try:
        open_blob_store(settings.files_dir, KeyRing.from_secrets(settings.storage.encryption_keys))
    except StorageKeyError as exc:
        raise _fail(f"stored data: {exc}") from None


def _configure_logging(settings: Settings) -> None:
    from nanobrain.observability.logs import configure_logging

    configure_logging(settings.web_interface.monitoring.log_level)


@app.command()
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
    import uvicorn

    overrides: dict[str, Any] = {
        "data_dir": str(data_dir) if data_dir else None,
        "web_interface": {"server_config": {"host": host, "port": port}},
    }
    settings = _settings(config, profile, overrides)
    _check_exposure(settings)
    _check_production(settings)
    _check_storage(settings)
    registry = _registry(targets, settings)
    _configure_logging(settings)
    server = settings.web_interface.server_config
    ssl = settings.web_interface.ssl_config
    ssl_options: dict[str, Any] = (
        {"ssl_certfile": str(ssl.cert_file), "ssl_keyfile": str(ssl.key_file)}
        if ssl.enabled
        else {}
    )
    scheme = "https" if ssl.enabled else "http"
    console.print(
        f"[bold]NanoBrain[/] serving {len(registry.workflows)} workflows, "
        f"{len(registry.tools)} tools, {len(registry.agents)} agents at "
        f"{scheme}://{server.host}:{server.port} "
        f"(profile {settings.profile}, data in {settings.data_dir})"
    )
    common: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": settings.web_interface.monitoring.log_level,
        # Logging as `_configure_logging` set it up; NanoBrain's access log replaces uvicorn's.
        "log_config": None,
        "access_log": False,
        # X-Forwarded-* are believed from the configured proxies only (uvicorn's default
        # would believe any loopback peer).
        "proxy_headers": bool(server.forwarded_allow_ips),
        "forwarded_allow_ips": server.forwarded_allow_ips,
        "timeout_graceful_shutdown": settings.runtime.shutdown_grace_seconds + 5,
        "ws_max_size": settings.web_interface.limits.max_body_bytes,
        **ssl_options,
    }
    if reload or server.reload:
        os.environ[TARGETS_ENV] = json.dumps(targets or [])
        _export_settings_env(config, profile, overrides)
        uvicorn.run("nanobrain.cli:app_from_environment", factory=True, reload=True, **common)
        return
    from nanobrain.web.server import serve as serve_app

    serve_app(settings, registry, **common)


def _export_settings_env(
    config: Path | None, profile: str | None, overrides: dict[str, Any]
) -> None:
    """Hand the CLI's choices to the reloading child process through the environment."""
    if config:
        os.environ["NANOBRAIN_CONFIG"] = str(config.resolve())
    if profile:
        os.environ["NANOBRAIN_PROFILE"] = profile
    if overrides.get("data_dir"):
        os.environ["NANOBRAIN_DATA_DIR"] = str(Path(overrides["data_dir"]).resolve())
    for key, value in overrides["web_interface"]["server_config"].items():
        if value is not None:
            os.environ[f"NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__{key.upper()}"] = str(value)


def app_from_environment() -> Any:
    """The app as configured by the environment (used by `serve --reload`)."""
    from nanobrain.web.app import create_app

    settings = load_settings()
    _configure_logging(settings)  # a fresh process: the parent's set-up is not inherited
    targets = json.loads(os.environ.get(TARGETS_ENV, "[]"))
    return create_app(settings, discover(targets or settings.workflows or DEFAULT_TARGETS))


@app.command()
def worker(
    targets: TargetsArgument = None,
    name: Annotated[
        str | None, typer.Option(help="Unique worker name (default: host-pid-random).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port.")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface for the metrics.")] = "127.0.0.1",
    config: ConfigOption = None,
    profile: ProfileOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run executions for the API replicas (runtime.mode distributed: Redis and PostgreSQL).

    Load the same targets as `serve`. SIGTERM or Ctrl-C stops taking jobs, lets running ones
    finish for `runtime.shutdown_grace_seconds`, then interrupts the rest."""
    import signal

    import uvloop

    from nanobrain.runtime.worker import Worker

    settings = _settings(config, profile, {"data_dir": str(data_dir) if data_dir else None})
    if not settings.distributed:
        raise _fail(
            "a worker serves distributed mode: set runtime.mode to distributed "
            "(NANOBRAIN_RUNTIME__MODE), with redis_url and a PostgreSQL database_url"
        )
    if (
        metrics_port is not None
        and not _is_loopback(metrics_host)
        and settings.web_interface.auth_config.enabled
        and settings.web_interface.monitoring.metrics_token is None
    ):
        raise _fail(
            f"--metrics-host {metrics_host} serves the metrics beyond this machine: set "
            "web_interface.monitoring.metrics_token (NANOBRAIN_METRICS_TOKEN in production) so "
            "that only Prometheus, with that token, can read them"
        )
    registry = _registry(targets, settings)
    _configure_logging(settings)
    logging.getLogger("taskiq").setLevel(logging.WARNING)
    private_directory(settings.data_dir)
    metrics = (metrics_host, metrics_port) if metrics_port is not None else None
    process = Worker(settings, registry, name, metrics=metrics)
    console.print(
        f"[bold]NanoBrain worker[/] {process.name}: {len(registry.workflows)} workflows, "
        f"{len(registry.tools)} tools (profile {settings.profile})"
    )

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await process.run(stop)

    uvloop.run(work())


@app.command("workflows")
def list_workflows(targets: TargetsArgument = None, config: ConfigOption = None) -> None:
    """List what the targets register."""
    registry = _registry(targets, _settings(config, None, {}))
    table = Table("kind", "name", "mode", "description")
    for spec in registry.workflows.values():
        table.add_row("workflow", spec.name, spec.mode, spec.description.split("\n")[0])
    for spec in registry.tools.values():
        table.add_row("tool", spec.name, "", spec.description.split("\n")[0])
    for agent in registry.agents.values():
        table.add_row("agent", agent.name, "", agent.description)
    Console().print(table)


@app.command()
def run(
    workflow: Annotated[str, typer.Argument(help="The workflow's name.")],
    input: Annotated[
        str, typer.Option("--input", "-i", help="The input as JSON, or @path to a JSON file.")
    ] = "{}",
    file: Annotated[
        list[str] | None,
        typer.Option("--file", "-f", help="field=path: upload a local file for a File field."),
    ] = None,
    targets: Annotated[
        list[str] | None, typer.Option("--target", "-t", help="Discovery target(s).")
    ] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run one workflow locally with a progress bar, and print its output as JSON."""
    settings = _settings(config, profile, {"data_dir": str(data_dir) if data_dir else None})
    registry = _registry(targets, settings)
    try:
        raw = Path(input[1:]).read_text() if input.startswith("@") else input
        payload = jsoncodec.loads(raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise _fail(f"--input is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise _fail("--input must be a JSON object")
    uploads = {}
    for item in file or []:
        field, _, path = item.partition("=")
        if not path or not Path(path).is_file():
            raise _fail(f"--file {item!r}: expected field=path to an existing file")
        uploads[field] = Path(path)
    _check_storage(settings)
    status = asyncio.run(_run_once(settings, registry, workflow, payload, uploads))
    raise typer.Exit(code=0 if status == "succeeded" else 1)


async def _run_once(
    settings: Settings,
    registry: Registry,
    name: str,
    payload: dict[str, Any],
    uploads: dict[str, Path],
) -> str:
    from nanobrain.runtime.errors import RuntimeProblem
    from nanobrain.security.policy import LOCAL_ADMIN
    from nanobrain.store.database import upgrade
    from nanobrain.web.app import build_state

    private_directory(settings.data_dir)
    state = build_state(settings, registry)
    await upgrade(state.engine)
    await state.executions.start()
    try:
        for field, path in uploads.items():
            record = await state.files.upload(LOCAL_ADMIN, path.name, None, _read_chunks(path))
            payload[field] = record.id
        try:
            spec = state.executions.runnable("workflow", name, LOCAL_ADMIN)
            execution = await state.executions.submit(spec, payload, LOCAL_ADMIN)
        except RuntimeProblem as exc:
            errors = "".join(
                f"\n  {'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in getattr(exc, "errors", [])
            )
            raise _fail(f"{exc.detail}{errors}") from None
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[message]}"), TimeElapsedColumn(), console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task(name, total=1.0, message="")
            async for event in state.executions.events(execution, 0):
                if event.type == "progress":
                    fraction = event.data.get("fraction")
                    progress.update(
                        task, completed=fraction or 0, message=event.data.get("message") or ""
                    )
                elif event.type == "chunk":
                    progress.console.print(event.data.get("delta"), end="", markup=False)
        final = await state.executions.get(execution.id, LOCAL_ADMIN)
        if final.status.value == "succeeded":
            shown = jsoncodec.dumps_text(final.output, jsoncodec.OPTIONS | orjson.OPT_INDENT_2)
            sys.stdout.write(shown + "\n")
        else:
            console.print(
                f"[bold red]{final.status.value}[/]: {(final.error or {}).get('message', '')}"
            )
        return final.status.value
    finally:
        await state.close()


async def _read_chunks(path: Path) -> Any:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None, profile: ProfileOption = None, data_dir: DataDirOption = None
) -> None:
    """Apply database migrations (the server also does this at start-up)."""
    from nanobrain.store.database import create_engine, upgrade

    settings = _settings(config, profile, {"data_dir": str(data_dir) if data_dir else None})
    private_directory(settings.data_dir)

    async def migrate() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    console.print(f"database at {settings.redacted()['database_url']} is up to date")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option("--username", "-u", help="The new user's name.")],
    role: Annotated[
        str, typer.Option("--role", "-r", help="admin, developer, user or guest.")
    ] = "user",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a user with a password (asked for twice, or read from stdin)."""
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(config, profile, {"data_dir": str(data_dir) if data_dir else None})
    private_directory(settings.data_dir)
    user_id = asyncio.run(_create_user(settings, username, password, role))
    console.print(f"created user {username!r} ({role}) with id {user_id}")


async def _create_user(settings: Settings, username: str, password: str, role: str) -> str:
    from nanobrain.security.accounts import AccountError, create_user
    from nanobrain.store.database import create_engine, upgrade
    from nanobrain.store.users import UserRepository

    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        record = await create_user(UserRepository(engine), username, password, role)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    finally:
        await engine.dispose()
    return record.id


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key (base64 of 32 bytes) for storage.encryption_keys."""
    from nanobrain.crypto.keyring import generate_key

    sys.stdout.write(generate_key() + "\n")


@keys_app.command("rotate")
def keys_rotate(
    config: ConfigOption = None, profile: ProfileOption = None, data_dir: DataDirOption = None
) -> None:
    """Re-encrypt all stored data (files, then chat sessions and messages) with the first
    configured key, and encrypt what was stored before encryption was enabled. Safe to interrupt
    and to run again; restart the servers with the new key first (README: key rotation)."""
    from nanobrain.crypto.keyring import KeyRing

    settings = _settings(config, profile, {"data_dir": str(data_dir) if data_dir else None})
    ring = KeyRing.from_secrets(settings.storage.encryption_keys)
    if not ring.enabled:
        raise _fail(
            "storage.encryption_keys is empty: put the new key first in it "
            "(`nanobrain keys generate` makes one)"
        )
    private_directory(settings.data_dir)
    failed = False
    for report in asyncio.run(_rotate(settings, ring)):
        console.print(
            f"{report.what}: {report.rewritten} re-encrypted, {report.current} already under "
            f"key {ring.primary_id.hex()}, {len(report.failed)} failed"
        )
        for item, reason in report.failed.items():
            console.print(f"  {item}: {reason}", markup=False)
        failed = failed or bool(report.failed)
    if failed:
        raise _fail("some data could not be re-encrypted (above); the older keys are still needed")


async def _rotate(settings: Settings, ring: KeyRing) -> list[RotationReport]:
    from nanobrain.store.database import create_engine, upgrade
    from nanobrain.store.key_manifest import StorageKeyError
    from nanobrain.store.rotation import rotate

    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        return await rotate(engine, settings.files_dir, ring)
    except StorageKeyError as exc:
        raise _fail(f"stored data: {exc}") from None
    finally:
        await engine.dispose()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
