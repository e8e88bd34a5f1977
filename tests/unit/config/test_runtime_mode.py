"""The runtime's mode is a setting (`runtime.mode`): distributed needs PostgreSQL and Redis URLs,
taken as PostgreSQL tools write them; the runtime keys are checked. In-process; a distributed
runtime on real services: tests/integration/distributed/test_distributed_config.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nanobrain.config import ConfigError, load_settings
from nanobrain.config.urls import async_database_url
from nanobrain.core.registry import discover
from nanobrain.runtime.build import build_runtime
from nanobrain.runtime.events.memory import MemoryEventBus
from nanobrain.runtime.executors.local import LocalExecutor
from nanobrain.runtime.records.local import LocalRecords
from tests.support.backing import REDIS

PG = "postgresql+asyncpg://nanobrain@db:5432/nanobrain"


def test_the_mode_is_a_setting_and_the_urls_come_from_the_environment(tmp_path: Path) -> None:
    embedded = load_settings(environ={"NANOBRAIN_DATA_DIR": str(tmp_path)})
    assert not embedded.distributed
    assert embedded.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert embedded.files_dir == tmp_path / "files"
    assert embedded.rate_limit_storage_uri == "memory://"
    distributed = load_settings(
        environ={
            "NANOBRAIN_RUNTIME__MODE": "distributed",
            "NANOBRAIN_DATABASE_URL": PG,
            "NANOBRAIN_REDIS_URL": "redis://cache:6379/0",
            "NANOBRAIN_FILE_STORE": str(tmp_path / "shared"),
        }
    )
    assert distributed.distributed and distributed.resolved_database_url == PG
    assert distributed.files_dir == tmp_path / "shared"
    assert distributed.rate_limit_storage_uri == "redis://cache:6379/0"


def test_redis_alone_keeps_the_embedded_runtime(tmp_path: Path) -> None:
    """An operator who sets Redis for rate limits or the cache keeps the one-process runtime."""
    environ = {"NANOBRAIN_DATA_DIR": str(tmp_path), "NANOBRAIN_REDIS_URL": REDIS}
    settings = load_settings(environ=environ)
    assert not settings.distributed and settings.rate_limit_storage_uri == REDIS

    async def built() -> None:
        runtime = build_runtime(settings, discover(["nanobrain.examples"]))
        try:
            assert isinstance(runtime.executions.executor, LocalExecutor)
            assert isinstance(runtime.executions.bus, MemoryEventBus)
            assert isinstance(runtime.executions.records, LocalRecords)
        finally:
            await runtime.release()

    asyncio.run(built())


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, ["redis_url (NANOBRAIN_REDIS_URL)", "a PostgreSQL database_url"]),
        ({"NANOBRAIN_REDIS_URL": "redis://r:6379/0"}, ["a PostgreSQL database_url"]),
        (
            {"NANOBRAIN_REDIS_URL": "redis://r/0", "NANOBRAIN_DATABASE_URL": "sqlite:///x.db"},
            ["a PostgreSQL database_url (NANOBRAIN_DATABASE_URL)"],
        ),
        ({"NANOBRAIN_DATABASE_URL": "postgres://db/nb"}, ["redis_url (NANOBRAIN_REDIS_URL)"]),
    ],
)
def test_distributed_mode_refuses_to_start_without_its_services(
    environ: dict[str, str], named: list[str]
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={"NANOBRAIN_RUNTIME__MODE": "distributed", **environ})
    message = str(refused.value)
    assert "runtime.mode distributed needs" in message
    assert all(name in message for name in named), message


def test_an_unknown_mode_is_refused_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"runtime\.mode.*'embedded' or 'distributed'"):
        load_settings(environ={"NANOBRAIN_RUNTIME__MODE": "cluster"})


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db:5432/nb", "postgresql+asyncpg://u:p@db:5432/nb"),
        ("postgres://u:p@db/nb", "postgresql+asyncpg://u:p@db/nb"),
        ("postgresql://db/nb?sslmode=require", "postgresql+asyncpg://db/nb?ssl=require"),
        ("postgresql+asyncpg://db/nb", "postgresql+asyncpg://db/nb"),
        ("sqlite:////var/nb.db", "sqlite+aiosqlite:////var/nb.db"),
        ("sqlite+aiosqlite:///nb.db", "sqlite+aiosqlite:///nb.db"),
        ("mysql+aiomysql://db/nb", "mysql+aiomysql://db/nb"),
    ],
)
def test_database_urls_get_the_async_driver(given: str, used: str) -> None:
    assert async_database_url(given) == used
    settings = load_settings(environ={"NANOBRAIN_DATABASE_URL": given})
    assert settings.resolved_database_url == used


def test_a_worker_timeout_must_outlast_the_heartbeat() -> None:
    with pytest.raises(ConfigError, match="worker_timeout_seconds must be longer"):
        load_settings(
            environ={
                "NANOBRAIN_RUNTIME__HEARTBEAT_SECONDS": "5",
                "NANOBRAIN_RUNTIME__WORKER_TIMEOUT_SECONDS": "5",
            }
        )
