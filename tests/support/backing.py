"""PostgreSQL and Redis for distributed-mode tests, isolated per test run: a database created for
the run and dropped after it, and a Redis key prefix of its own whose keys are deleted after."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import asyncpg
import redis

POSTGRES = os.environ.get("NANOBRAIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("NANOBRAIN_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Backing:
    database: str
    prefix: str

    postgres: str = POSTGRES
    redis: str = REDIS

    @property
    def database_url(self) -> str:
        """The plain URL every PostgreSQL tool writes (NanoBrain picks asyncpg itself)."""
        return f"{self.postgres}/{self.database}"

    @property
    def env(self) -> dict[str, str]:
        """What a server or worker needs to join this run's distributed deployment."""
        return {
            "NANOBRAIN_RUNTIME__MODE": "distributed",
            "NANOBRAIN_DATABASE_URL": self.database_url,
            "NANOBRAIN_REDIS_URL": self.redis,
            "NANOBRAIN_REDIS_PREFIX": self.prefix,
        }


async def _admin(statement: str, postgres: str = POSTGRES) -> None:
    connection = await asyncpg.connect(f"{postgres}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def backing(name: str, postgres: str = POSTGRES, redis_url: str = REDIS) -> Iterator[Backing]:
    """A fresh database and Redis prefix named after `name` and this process (on the shared
    services, or on the given ones)."""
    label = f"nbtest_{name}_{os.getpid()}_{os.urandom(3).hex()}"
    asyncio.run(_admin(f'CREATE DATABASE "{label}"', postgres))
    try:
        yield Backing(database=label, prefix=label, postgres=postgres, redis=redis_url)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{label}" WITH (FORCE)', postgres))
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{label}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
