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

    @property
    def env(self) -> dict[str, str]:
        """What a server or worker needs to join this run's distributed deployment."""
        return {
            "NANOBRAIN_DATABASE_URL": f"{POSTGRES.replace('postgresql', 'postgresql+asyncpg')}"
            f"/{self.database}",
            "NANOBRAIN_REDIS_URL": REDIS,
            "NANOBRAIN_REDIS_PREFIX": self.prefix,
        }


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def backing(name: str) -> Iterator[Backing]:
    """A fresh database and Redis prefix named after `name` and this process."""
    label = f"nbtest_{name}_{os.getpid()}_{os.urandom(3).hex()}"
    asyncio.run(_admin(f'CREATE DATABASE "{label}"'))
    try:
        yield Backing(database=label, prefix=label)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{label}" WITH (FORCE)'))
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{label}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
