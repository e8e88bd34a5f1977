"""Open streams per principal: SSE streams and WebSockets, capped by role
(`runtime.fair_share.streams`), so one user cannot hold every connection the server can serve.

A stream takes a slot before it starts anything (a chat turn, an execution), so a refused one
has no side effect: 429 on HTTP, close code 4429 on the WebSocket.

Each process counts its own streams. In distributed mode the counts are also kept in Redis, one
field per replica in a hash per principal, so the cap holds across replicas: a replica rewrites
its fields at every beat (a decrement lost to an error heals), and the fields of a replica that
stopped beating stop counting (its streams died with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from nanobrain.core.user import User
from nanobrain.runtime.heartbeats import Heartbeats

log = logging.getLogger(__name__)

# KEYS: the principal's hash (replica -> open streams), the replicas' beats.
# ARGV: this replica, the limit, the beat timeout in ms. Returns 1 taken, 0 over the cap.
_TAKE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local counts = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #counts, 2 do
  local replica = counts[i]
  local beat = redis.call('ZSCORE', KEYS[2], replica)
  if replica == ARGV[1] or (beat and tonumber(beat) >= now - tonumber(ARGV[3])) then
    total = total + tonumber(counts[i + 1])
  else
    redis.call('HDEL', KEYS[1], replica)
  end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 1
"""


class TooManyStreams(Exception):
    def __init__(self, limit: int, role: str):
        super().__init__(
            f"too many open streams: a {role} may hold {limit} SSE streams and WebSockets at "
            "once; close one first"
        )
        self.limit = limit


class StreamSlot:
    """One open stream of a principal; `release` (idempotent) when it closes."""

    __slots__ = ("_caps", "_principal")

    def __init__(self, caps: StreamCaps | None, principal: str):
        self._caps = caps
        self._principal = principal

    def release(self) -> None:
        caps, self._caps = self._caps, None
        if caps is not None:
            caps.closed(self._principal)


UNCOUNTED = StreamSlot(None, "")  # for roles without a cap: nothing to count or release


class StreamCaps:
    def __init__(
        self,
        limits: Mapping[str, int],
        redis: Redis | None = None,
        prefix: str = "nanobrain",
        *,
        beat_seconds: float = 2.0,
        timeout_seconds: float = 10.0,
    ):
        self._limits = dict(limits)
        self._open: dict[str, int] = {}  # principal -> streams open in this process
        self._zeroed: set[str] = set()  # principals whose last stream here closed since a beat
        self._redis = redis if limits else None
        self._prefix = f"{prefix}:streams"
        self._replica = f"{os.uname().nodename}-{os.getpid()}-{os.urandom(3).hex()}"
        self._beat_seconds = beat_seconds
        self._timeout_ms = int(timeout_seconds * 1000)
        self._beats: Heartbeats | None = None
        self._take: AsyncScript | None = None
        self._beater: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[object]] = set()
        if self._redis is not None:
            self._beats = Heartbeats(self._redis, self._prefix, timeout_seconds)
            self._take = self._redis.register_script(_TAKE)

    async def start(self) -> None:
        if self._beats is not None:
            await self._beat()
            self._beater = asyncio.create_task(self._beat_forever(), name="stream-caps-beat")

    async def close(self) -> None:
        if self._beater is not None:
            self._beater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beater
        if self._beats is not None:  # bounded: Redis may be away at shutdown
            with contextlib.suppress(RedisError, TimeoutError):
                async with asyncio.timeout(1):
                    await self._beats.forget(self._replica)

    async def open(self, user: User) -> StreamSlot:
        """A slot for one more stream of `user`; `TooManyStreams` past its role's cap."""
        limit = self._limits.get(user.role)
        if limit is None:
            return UNCOUNTED
        principal = user.id
        if self._open.get(principal, 0) >= limit:
            raise TooManyStreams(limit, user.role)
        if self._take is not None:
            args: list[str | int] = [self._replica, limit, self._timeout_ms]
            keys = [self._key(principal), f"{self._prefix}:workers"]
            if not await self._take(keys=keys, args=args):
                raise TooManyStreams(limit, user.role)
        self._open[principal] = self._open.get(principal, 0) + 1
        self._zeroed.discard(principal)
        return StreamSlot(self, principal)

    def closed(self, principal: str) -> None:
        left = self._open[principal] - 1
        if left:
            self._open[principal] = left
        else:
            del self._open[principal]
            self._zeroed.add(principal)
        if self._redis is not None:  # at once; the next beat rewrites it if this fails
            decrement = self._redis.hincrby(self._key(principal), self._replica, -1)
            task = asyncio.ensure_future(decrement)
            self._pending.add(task)
            task.add_done_callback(self._settled)

    def open_count(self, principal: str) -> int:
        return self._open.get(principal, 0)

    def _settled(self, task: asyncio.Task[object]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not count a closed stream in Redis; the next beat will")

    def _key(self, principal: str) -> str:
        return f"{self._prefix}:of:{principal}"

    async def _beat(self) -> None:
        assert self._redis is not None and self._beats is not None
        await self._beats.beat(self._replica)
        pipe = self._redis.pipeline(transaction=False)
        for principal, count in self._open.items():
            pipe.hset(self._key(principal), self._replica, count)
        zeroed = set(self._zeroed)
        for principal in zeroed:
            pipe.hdel(self._key(principal), self._replica)
        await pipe.execute()
        self._zeroed -= zeroed

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._beat_seconds)
            try:
                await self._beat()
            except RedisError:
                log.exception("counting open streams in Redis failed; retrying")
