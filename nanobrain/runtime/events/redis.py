"""Event streams on Redis Streams, so any replica serves any stream from any `Last-Event-ID`.

One Redis stream per execution or chat session. A Lua script numbers each event with INCR on the
stream's counter and appends it under the entry id `<seq>-0` in the same atomic step, so events
that different processes publish into one stream (the API's `queued`, the worker's progress, the
reaper's `failed`) are numbered without gap or duplicate, and "after event n" is `XRANGE (n-0 +`.
Streams are trimmed to `max_events` entries and expire `retention` after their final event (a day
after their last one otherwise).

Publishing never blocks the publisher: events go to an ordered outbox that one writer task sends in
pipelined batches (`flush()` waits for it); the returned event's `seq` is this process's guess
until the writer learns the real number. While Redis is unreachable the outbox keeps the events, in
order, and the writer sends them once it is back; `flush()` gives up after `flush_timeout` with
`EventsUnavailable` (so a request answers 503 rather than waiting on the outage). Subscribers
replay with XRANGE, then wait on one XREAD per process that follows every stream somebody here
waits on, instead of holding a blocking Redis connection per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from nanobrain.core import jsoncodec
from nanobrain.runtime.events.base import Event, EventBus, StreamLagged

log = logging.getLogger(__name__)

_PUBLISH = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], seq .. '-0', 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return seq
"""
UNFINISHED_TTL_MS = 24 * 3600 * 1000
MIN_FINISHED_TTL_MS = 60_000  # followers must still find the final event they were woken for
BATCH = 500
FOLLOW_BLOCK_MS = 2000  # below the client's socket timeout
BLOCKING_READ_SECONDS = FOLLOW_BLOCK_MS / 1000  # the longest a Redis command here waits by design
RETRY_SECONDS = 0.5  # between attempts while Redis is unreachable
SAFETY_WAKE_SECONDS = 5.0  # re-read even without a wake-up, should one ever be lost


class EventsUnavailable(RedisConnectionError):
    """The events published so far could not be written to Redis in time."""


class RedisEventBus(EventBus):
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        max_events_per_stream: int = 10_000,
        retention_seconds: float = 600.0,
        flush_timeout: float = 5.0,
    ):
        self._redis = redis
        self._prefix = f"{prefix}:events:"
        self._max_events = max_events_per_stream
        self._finished_ttl = max(int(retention_seconds * 1000), MIN_FINISHED_TTL_MS)
        self._flush_timeout = flush_timeout
        self._script = redis.register_script(_PUBLISH)
        self._outbox: list[tuple[Event, bytes]] = []
        self._next: OrderedDict[str, int] = OrderedDict()  # guesses of the next seq per stream
        self._pending = asyncio.Event()
        self._published = 0  # events handed to the outbox, ever
        self._stored = 0  # of which written to Redis
        self._flushed: list[tuple[int, asyncio.Future[None]]] = []  # (published then, waiter)
        self._writer: asyncio.Task[None] | None = None
        self._follower = _Follower(redis, f"{prefix}:wake:{os.urandom(8).hex()}")
        self._interrupted = False

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def interrupt(self) -> None:
        self._interrupted = True
        self._follower.wake_all()

    def _key(self, stream: str) -> str:
        return f"{self._prefix}{{{stream}}}"  # the hash tag keeps a stream's keys on one slot

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="redis-event-writer")
        await self._follower.start()

    async def close(self) -> None:
        with contextlib.suppress(RedisError, TimeoutError):
            await asyncio.wait_for(self.flush(), 5)
        await self._follower.close()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    # -- publishing ----------------------------------------------------------------------------
    def publish(
        self,
        stream: str,
        event_type: str,
        data: Any,
        *,
        final: bool = False,
        execution_id: str | None = None,
        session_id: str | None = None,
    ) -> Event:
        seq = self._next.pop(stream, 1)
        self._next[stream] = seq + 1
        if len(self._next) > 10_000:
            self._next.popitem(last=False)
        event = Event(
            stream=stream,
            seq=seq,
            type=event_type,
            data=data,
            ts=time.time(),
            final=final,
            execution_id=execution_id,
            session_id=session_id,
        )
        payload = jsoncodec.dumps(
            {"t": event_type, "d": data, "ts": event.ts, "f": final, "x": execution_id,
             "s": session_id}
        )  # fmt: skip
        self._outbox.append((event, payload))
        self._published += 1
        self._pending.set()
        return event

    async def flush(self) -> None:
        """Return once every event published so far is in Redis; `EventsUnavailable` if that
        takes longer than `flush_timeout` (they stay in the outbox, and are written later)."""
        if self._stored == self._published:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._flushed.append((self._published, waiter))
        try:
            async with asyncio.timeout(self._flush_timeout):
                await waiter  # cancelled on time-out: the writer skips a waiter that is done
        except TimeoutError:
            raise EventsUnavailable(
                f"{self._published - self._stored} event(s) not written to Redis within "
                f"{self._flush_timeout:g} s"
            ) from None

    async def last_seq(self, stream: str) -> int:
        await self.flush()
        stored = await self._redis.get(f"{self._key(stream)}:seq")
        last = int(stored or 0)
        self._next[stream] = last + 1
        return last

    async def _write_forever(self) -> None:
        failing = False
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._outbox:
                batch = self._outbox[:BATCH]
                try:
                    numbers = await self._send(batch)
                except RedisError as exc:
                    if not failing:  # once per outage, not every half second
                        log.warning("writing events to Redis failed (%s); retrying", exc)
                    failing = True
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if failing:
                    log.warning("writing events to Redis again (%d waiting)", len(self._outbox))
                    failing = False
                del self._outbox[: len(batch)]
                for (event, _), number in zip(batch, numbers, strict=True):
                    event.seq = int(number)
                    if self._next.get(event.stream, 0) <= event.seq:
                        self._next[event.stream] = event.seq + 1
                    if event.final:
                        self._next.pop(event.stream, None)
                self._stored += len(batch)
                self._release_flushes()

    def _release_flushes(self) -> None:
        """Wake the `flush()` callers whose events are all stored now (not waiting for events
        published after they asked, which under load would be never)."""
        waiting = []
        for target, waiter in self._flushed:
            if target > self._stored:
                waiting.append((target, waiter))
            elif not waiter.done():
                waiter.set_result(None)
        self._flushed = waiting

    async def _send(self, batch: list[tuple[Event, bytes]]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for event, payload in batch:
                key = self._key(event.stream)
                ttl = self._finished_ttl if event.final else UNFINISHED_TTL_MS
                await self._script(
                    keys=[key, f"{key}:seq"], args=[self._max_events, ttl, payload], client=pipe
                )
            return list(await pipe.execute())

    # -- reading -------------------------------------------------------------------------------
    async def known(self, stream: str) -> bool:
        if any(event.stream == stream for event, _ in self._outbox):
            return True
        return bool(await self._redis.exists(self._key(stream)))

    async def subscribe(self, stream: str, after: int = 0) -> AsyncGenerator[Event, None]:
        key = self._key(stream)
        cursor = after
        first = True
        while True:
            entries: Any = await self._redis.xrange(key, min=f"({cursor}-0", max="+", count=BATCH)
            if first and not entries and await self._ended(stream):
                return  # resumed at or past the final event
            first = False
            for entry_id, fields in entries:
                event = _decode(stream, entry_id, fields)
                if event.seq > cursor + 1:
                    raise StreamLagged(stream, cursor, event.seq)  # trimmed past our position
                yield event
                cursor = event.seq
                if event.final:
                    return
            if self._interrupted:
                return
            if len(entries) < BATCH:
                await self._follower.wait(key, cursor)

    async def _ended(self, stream: str) -> bool:
        last: Any = await self._redis.xrevrange(self._key(stream), count=1)
        return bool(last) and _decode(stream, *last[0]).final


def _decode(stream: str, entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
    body = jsoncodec.loads(fields[b"e"])
    return Event(
        stream=stream,
        seq=int(entry_id.split(b"-", 1)[0]),
        type=body["t"],
        data=body["d"],
        ts=body["ts"],
        final=body["f"],
        execution_id=body["x"],
        session_id=body["s"],
    )


class _Follower:
    """One blocking XREAD over every stream that a subscriber of this process waits on; it wakes
    the waiters of a stream when an entry past their position arrives. A waiter joining while the
    XREAD blocks pokes this process's own wake-up stream, so the XREAD starts again with it."""

    def __init__(self, redis: Redis, wake_key: str):
        self._redis = redis
        self._wake_key = wake_key
        self._wake_id = b"0-0"  # its own, new stream: every poke counts
        self._positions: dict[str, int] = {}  # stream key -> lowest position waited from
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._changed = asyncio.Event()
        self._blocking = False
        self._poked = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow_forever(), name="redis-event-follower")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError):
            await self._redis.delete(self._wake_key)

    async def wait(self, key: str, position: int) -> None:
        """Return when the stream may hold entries after `position` (or after a safety delay)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        known = self._positions.get(key)
        if known is None or position < known:
            self._positions[key] = position
            self._changed.set()
            if self._blocking and not self._poked:
                self._poked = True
                asyncio.get_running_loop().create_task(self._poke())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), SAFETY_WAKE_SECONDS)
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[key]
                    self._positions.pop(key, None)

    def wake_all(self) -> None:
        """Wake every waiter now (the bus is interrupted): each re-reads, then ends."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _poke(self) -> None:
        try:
            await self._redis.xadd(self._wake_key, {b"w": b"1"}, maxlen=1)
            await self._redis.pexpire(self._wake_key, UNFINISHED_TTL_MS)
        except RedisError:
            log.warning("could not wake the event follower; it wakes on its own within seconds")

    async def _follow_forever(self) -> None:
        failing = False
        while True:
            if not self._positions:
                self._changed.clear()
                await self._changed.wait()
                continue
            streams: dict[Any, Any] = {key: f"{pos}-0" for key, pos in self._positions.items()}
            streams[self._wake_key] = self._wake_id
            self._blocking, self._poked = True, False
            try:
                reply: Any = await self._redis.xread(streams, count=1, block=FOLLOW_BLOCK_MS)
            except RedisError as exc:
                if not failing:
                    log.warning("following event streams failed (%s); retrying", exc)
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            finally:
                self._blocking = False
            if failing:
                log.warning("following event streams again")
                failing = False
            for key, entries in reply or []:
                name = key.decode() if isinstance(key, bytes) else key
                if name == self._wake_key:
                    self._wake_id = entries[-1][0]
                    continue
                self._positions.pop(name, None)
                for waiter in self._waiters.pop(name, []):
                    if not waiter.done():
                        waiter.set_result(None)
