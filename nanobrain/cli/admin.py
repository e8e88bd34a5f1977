"""`nanobrain db`, `users` and `keys`: maintenance of the database, accounts and keys."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from nanobrain.cli import settings as cli
from nanobrain.cli.options import ConfigOption, DataDirOption, ProfileOption, console, fail
from nanobrain.config import Settings
from nanobrain.store.private import private_directory

if TYPE_CHECKING:
    from nanobrain.crypto.keyring import KeyRing
    from nanobrain.store.rotation import RotationReport


def db_upgrade(
    config: ConfigOption = None, profile: ProfileOption = None, data_dir: DataDirOption = None
) -> None:
    """Apply database migrations (the server also does this at start-up)."""
    from nanobrain.store.database import create_engine, upgrade

    settings = cli.settings(config, profile, data_dir)
    private_directory(settings.data_dir)

    async def migrate() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    console.print(f"database at {settings.redacted()['database_url']} is up to date")


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
    settings = cli.settings(config, profile, data_dir)
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
        raise fail(str(exc)) from None
    finally:
        await engine.dispose()
    return record.id


def keys_generate() -> None:
    """Print a new random key (base64 of 32 bytes) for storage.encryption_keys."""
    from nanobrain.crypto.keyring import generate_key

    sys.stdout.write(generate_key() + "\n")


def keys_rotate(
    config: ConfigOption = None, profile: ProfileOption = None, data_dir: DataDirOption = None
) -> None:
    """Re-encrypt all stored data (files, then chat sessions and messages) with the first
    configured key, and encrypt what was stored before encryption was enabled. Safe to interrupt
    and to run again; restart the servers with the new key first (README: key rotation)."""
    from nanobrain.crypto.keyring import KeyRing

    settings = cli.settings(config, profile, data_dir)
    ring = KeyRing.from_secrets(settings.storage.encryption_keys)
    if not ring.enabled:
        raise fail(
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
        raise fail("some data could not be re-encrypted (above); the older keys are still needed")


async def _rotate(settings: Settings, ring: KeyRing) -> list[RotationReport]:
    from nanobrain.store.database import create_engine, upgrade
    from nanobrain.store.key_manifest import StorageKeyError
    from nanobrain.store.rotation import rotate

    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        return await rotate(engine, settings.files_dir, ring)
    except StorageKeyError as exc:
        raise fail(f"stored data: {exc}") from None
    finally:
        await engine.dispose()
