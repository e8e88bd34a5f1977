"""Result cache on Redis, shared by every replica and worker; Redis expires the entries."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from nanobrain.core import jsoncodec
from nanobrain.runtime.cache.base import ResultCache


class RedisResultCache(ResultCache):
    def __init__(self, redis: Redis, prefix: str, default_ttl: float):
        super().__init__(default_ttl)
        self._redis = redis
        self._prefix = f"{prefix}:cache:"

    async def get(self, key: str) -> tuple[bool, Any]:
        stored = await self._redis.get(self._prefix + key)
        if stored is None:
            return False, None
        return True, jsoncodec.loads(stored)

    async def set(self, key: str, output: Any, ttl: float) -> None:
        value = jsoncodec.dumps(output)
        await self._redis.set(self._prefix + key, value, px=max(1, int(ttl * 1000)))
