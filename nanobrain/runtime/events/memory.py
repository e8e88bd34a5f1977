"""In-process event bus: per-stream ring buffers, shared by all subscribers (no per-client
queues, so a slow client costs nothing but its own lag)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

from nanobrain.runtime.events.base import Event, EventBus, StreamLagged

MAX_BATCH = 256  # events handed to a subscriber at once
EXPIRE_EVERY = 64  # new streams between looks for streams past their retention


class _Stream:
    __slots__ = ("events", "finished_at", "next_seq", "waiter")

    def __init__(self, max_events: int):
        self.events: deque[Event] = deque(maxlen=max_events)
        self.next_seq = 1
        self.finished_at: float | None = None
        self.waiter: asyncio.Future[None] | None = None

    def since(self, stream: str, after: int) -> list[Event]:
        if not self.events or after >= self.events[-1].seq:
            return []
        first = self.events[0].seq
        if after < first - 1:
            raise StreamLagged(stream, after, first)
        start = after - first + 1
        if start == 0:
            return list(self.events)
        return list(itertools.islice(self.events, start, None))

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        self.waiter = None

    def changed(self) -> asyncio.Future[None]:
        if self.waiter is None:
            self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter


class MemoryEventBus(EventBus):
    def __init__(
        self,
        *,
        max_events_per_stream: int = 10_000,
        retention_seconds: float = 600.0,
        max_streams: int = 10_000,
    ):
        self._streams: dict[str, _Stream] = {}
        self._finished: deque[tuple[str, float]] = deque()  # (stream, finished at), in order
        self._max_events = max_events_per_stream
        self._retention = retention_seconds
        self._max_streams = max_streams
        self._interrupted = False
        self._created = 0  # streams so far

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def interrupt(self) -> None:
        self._interrupted = True
        for state in self._streams.values():
            state.wake()

    async def known(self, stream: str) -> bool:
        return stream in self._streams

    async def last_seq(self, stream: str) -> int:
        state = self._streams.get(stream)
        return state.next_seq - 1 if state is not None else 0

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
        state = self._streams.get(stream)
        if state is None:
            state = self._streams[stream] = _Stream(self._max_events)
            self._created += 1
            if self._created % EXPIRE_EVERY == 0 or len(self._streams) > self._max_streams:
                self._expire()
        seq = state.next_seq
        event = Event(stream, seq, event_type, data, time.time(), final, execution_id, session_id)
        state.next_seq = seq + 1
        state.events.append(event)
        if final and state.finished_at is None:
            state.finished_at = time.monotonic()
            self._finished.append((stream, state.finished_at))
        if state.waiter is not None:  # a subscriber waits
            state.wake()
        return event

    async def subscribe(self, stream: str, after: int = 0) -> AsyncGenerator[Event, None]:
        async for batch in self.subscribe_batches(stream, after):
            for event in batch:
                yield event

    async def subscribe_batches(
        self, stream: str, after: int = 0
    ) -> AsyncGenerator[list[Event], None]:
        cursor = after
        while True:
            state = self._streams.get(stream)
            if state is None:
                return
            events = state.since(stream, cursor)
            for start in range(0, len(events), MAX_BATCH):
                batch = events[start : start + MAX_BATCH]
                final = next((i for i, event in enumerate(batch) if event.final), None)
                if final is not None:
                    yield batch[: final + 1]
                    return
                yield batch
                cursor = batch[-1].seq
            if self._interrupted:
                return
            if events:
                continue  # more may have come while these were sent
            if state.finished_at is not None:
                return
            await asyncio.shield(state.changed())

    def _expire(self) -> None:
        """Drop finished streams past retention, and the oldest finished ones past the cap."""
        horizon = time.monotonic() - self._retention
        finished = self._finished
        while finished and (finished[0][1] <= horizon or len(self._streams) > self._max_streams):
            self._streams.pop(finished.popleft()[0], None)
