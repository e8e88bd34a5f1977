"""Which failures are outages (503, retried in the background) and which are bugs (500): the
errors come from the real drivers, talking to ports where nothing listens."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from taskiq.exceptions import SendTaskError

from nanobrain.runtime.outages import Unavailable, unavailable
from nanobrain.store.database import create_engine
from tests.support.server import free_port


async def _raised(coroutine: object) -> BaseException:
    try:
        await coroutine  # type: ignore[misc]
    except BaseException as exc:
        return exc
    raise AssertionError("it did not fail")


def test_a_database_that_refuses_connections_is_an_outage() -> None:
    async def scenario() -> BaseException:
        engine = create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/x", timeout=2)
        try:

            async def query() -> None:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))

            return await _raised(query())
        finally:
            await engine.dispose()

    assert unavailable(asyncio.run(scenario())) == "database"


@pytest.mark.slow  # redis-py's own reconnection backoff, seconds
def test_a_redis_that_refuses_connections_is_an_outage() -> None:
    async def scenario() -> BaseException:
        redis = Redis(port=free_port(), socket_connect_timeout=2)
        try:
            return await _raised(redis.ping())
        finally:
            await redis.aclose()

    refused = asyncio.run(scenario())
    assert unavailable(refused) == "redis"
    try:  # how taskiq reports a push that failed
        raise SendTaskError from refused
    except SendTaskError as wrapped:
        assert unavailable(wrapped) == "redis"


def test_sql_mistakes_stay_bugs(tmp_path: Path) -> None:
    """SQLite reports a missing table as an OperationalError too: that is no outage."""

    async def scenario() -> BaseException:
        engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
        try:

            async def query() -> None:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT * FROM missing"))

            return await _raised(query())
        finally:
            await engine.dispose()

    assert unavailable(asyncio.run(scenario())) is None


@pytest.mark.parametrize(
    ("exc", "dependency"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "storage"),
        (OSError(errno.EIO, "Input/output error"), "storage"),
        (Unavailable("redis"), "redis"),
        (OSError(errno.ENOENT, "No such file"), None),
        (ValueError("bad"), None),
        (TimeoutError(), None),  # ours (asyncio.timeout), not a driver's
    ],
)
def test_other_failures(exc: BaseException, dependency: str | None) -> None:
    assert unavailable(exc) == dependency
