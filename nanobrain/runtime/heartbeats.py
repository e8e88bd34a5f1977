"""Which workers are alive. Each beats into one sorted set, scored with Redis's clock (so the hosts'
clocks never matter); a worker silent for `timeout` seconds is presumed dead."""

from __future__ import annotations

import os
from typing import Any

from redis.asyncio import Redis

_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
_BEAT = _NOW_MS + "redis.call('ZADD', KEYS[1], now, ARGV[1]) return now"
_ALIVE = _NOW_MS + "return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')"
_DEAD = _NOW_MS + "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - ARGV[1]))"


class Heartbeats:
    def __init__(self, redis: Redis, prefix: str, timeout: float):
        self.timeout = timeout
        self._redis = redis
        self._key = f"{prefix}:workers"
        self._sweep_key = f"{prefix}:sweep"
        self._token = os.urandom(8).hex()
        self._beat = redis.register_script(_BEAT)
        self._alive = redis.register_script(_ALIVE)
        self._dead = redis.register_script(_DEAD)

    @property
    def _timeout_ms(self) -> int:
        return int(self.timeout * 1000)

    async def beat(self, worker: str) -> None:
        await self._beat(keys=[self._key], args=[worker])

    async def alive(self) -> int:
        return int(await self._alive(keys=[self._key], args=[self._timeout_ms]))

    async def dead(self) -> list[str]:
        found = await self._dead(keys=[self._key], args=[self._timeout_ms])
        return [worker.decode() for worker in found]

    async def redis_info(self) -> dict[str, Any]:
        """Redis's `INFO server` (its `uptime_in_seconds` tells a restart)."""
        info: dict[str, Any] = await self._redis.info("server")
        return info

    async def forget(self, worker: str) -> None:
        """A worker that left (gracefully) or whose jobs were settled."""
        await self._redis.zrem(self._key, worker)

    async def sweep_turn(self, seconds: float) -> bool:
        """True for one process per `seconds`: recovery sweeps once a round, not once a process.
        The turn is not held for the sweep's whole run, so a sweeper that dies delays the next
        sweep by one round at most; a slow sweep may overlap the next one, which is safe (every
        settlement is a compare-and-set) if wasteful."""
        return bool(
            await self._redis.set(self._sweep_key, self._token, nx=True, px=int(seconds * 1000))
        )
