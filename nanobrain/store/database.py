"""Engine creation and migrations.

SQLite gets WAL and a busy timeout so that readers never block the writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from nanobrain.config.urls import async_database_url
from nanobrain.core import jsoncodec
from nanobrain.store.private import private_sqlite

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def json_text(value: Any) -> str:
    """A JSON column's stored text: SQLAlchemy's serializer, and `sqlite_rows` writes it too.
    Integers past 64 bits are stored exactly; raises `jsoncodec.Unencodable`."""
    if value is None:  # most rows' `error`
        return "null"
    try:  # `jsoncodec.dumps` inlined: this runs for every JSON column of every row written
        return orjson.dumps(value, option=jsoncodec.OPTIONS).decode()
    except orjson.JSONEncodeError:
        return jsoncodec.dumps_text(value)


def _unjson(value: Any) -> Any:
    # SQLite gives JSON columns numeric affinity: a stored number comes back already a number
    # (an integer past 64 bits as text, which then reads back as JSON).
    return jsoncodec.loads(value) if isinstance(value, str | bytes) else value


COMMAND_TIMEOUT_SECONDS = 60  # no statement of ours runs this long: past it, the server is stuck


def create_engine(url: str, timeout: float = 5.0) -> AsyncEngine:
    """`url` with an asynchronous driver (`postgresql://` and `sqlite://` get one). `timeout`
    bounds connecting and waiting for a pooled connection, so a database that is down or
    unreachable fails a request within it (503) instead of holding it; a pooled connection the
    server dropped (a restart) is noticed at checkout and replaced."""
    url = async_database_url(url)
    options: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": _unjson}
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite(Path(database))
        engine = create_async_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql+asyncpg"):
        options["connect_args"] = {"timeout": timeout, "command_timeout": COMMAND_TIMEOUT_SECONDS}
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=timeout,
        **options,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 16 MiB of page cache (SQLite's default is 2 MiB): the indexes new rows go into stay in
    # memory well past a million executions.
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


MIGRATION_LOCK = 0x6E616E6F  # any constant: the PostgreSQL advisory lock migrations hold


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision`; idempotent, run at every start-up. On PostgreSQL the
    replicas and workers starting together take turns (an advisory lock for the transaction)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
