"""Execution records in memory with write-behind to the database.

Requests never wait on a database round trip of their own: changes are marked dirty and a single
flusher upserts everything dirty in one transaction (group commit), at most
`write_behind_seconds` after the change. A caller that needs durability
(`flush()`) awaits the commit that includes its record, sharing it with every
other request that arrived meanwhile.

`shared=True` (distributed mode): other processes run and change the records, so only the records
this process runs are kept in memory (with final ones, which never change), a worker takes an
execution by compare-and-set on the database row, and outcomes are committed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict

from nanobrain.store.executions import ExecutionRecord, ExecutionRepository, ExecutionStatus

log = logging.getLogger(__name__)


class ExecutionRecords:
    def __init__(
        self,
        repository: ExecutionRepository,
        *,
        cache_size: int = 10_000,
        write_behind_seconds: float = 0.05,
        shared: bool = False,
    ):
        self.repository = repository
        self.shared = shared
        self._delay = write_behind_seconds
        self._cache_size = cache_size
        self._live: dict[str, ExecutionRecord] = {}  # not final yet: always in memory
        self._recent: OrderedDict[str, ExecutionRecord] = OrderedDict()  # final, LRU
        self._dirty: dict[str, ExecutionRecord] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._finals: dict[str, asyncio.Future[None]] = {}
        self._wakeup = asyncio.Event()  # something is dirty
        self._urgent = asyncio.Event()  # somebody waits for a commit
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="execution-flusher")

    async def close(self) -> None:
        """Flush everything, then let the flusher end (it is not cancelled: a write cut off
        mid-transaction would leave its connection holding the database's write lock)."""
        await self.flush()
        self._closed = True
        self._wakeup.set()
        self._urgent.set()
        if self._flusher is not None:
            await self._flusher

    def add(self, record: ExecutionRecord) -> None:
        """Track a new record; it is written with the next batch (`flush()` to wait for it)."""
        if not self.shared:  # shared: the worker that runs it holds the live copy
            self._live[record.id] = record
        self.touch(record)

    async def claim(self, execution_id: str) -> ExecutionRecord | None:
        """Move a queued execution to `running` for this process; None if it is not queued any
        more (cancelled before it started, or taken by another worker)."""
        if not self.shared:
            record = self.cached(execution_id) or await self.get(execution_id)
            if record is None or record.status is not ExecutionStatus.QUEUED:
                return None
            record.transition(ExecutionStatus.RUNNING)
            return record
        record = await self.repository.claim(execution_id)
        if record is not None:
            self._live[record.id] = record
        return record

    async def commit(self, record: ExecutionRecord, status: ExecutionStatus, attempts: int) -> bool:
        """Shared mode: write `record` now if its row is still in `status` at `attempts`; False
        (and the copy is dropped) if another process changed the execution first."""
        self._dirty.pop(record.id, None)
        written = await self.repository.compare_and_set(record, status, attempts)
        if not written:
            self._live.pop(record.id, None)
        elif record.status.final:
            self._settled(record)
        return written

    def touch(self, record: ExecutionRecord) -> None:
        """Mark a record changed; moves final records from the live set to the recent cache."""
        self._dirty[record.id] = record
        if record.status.final and record.id in self._live:
            self._settled(record)
        self._wakeup.set()

    def _settled(self, record: ExecutionRecord) -> None:
        """A record reached its final state: from the live set to the recent cache."""
        self._live.pop(record.id, None)
        self._remember(record)
        final = self._finals.pop(record.id, None)
        if final is not None and not final.done():
            final.set_result(None)

    def finished(self, record: ExecutionRecord) -> asyncio.Future[None]:
        """Resolves when this process sees the record reach a final state."""
        future = self._finals.get(record.id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            if record.status.final:
                future.set_result(None)
            else:
                self._finals[record.id] = future
        return future

    def cached(self, execution_id: str) -> ExecutionRecord | None:
        return self._live.get(execution_id) or self._recent.get(execution_id)

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        record = self.cached(execution_id)
        if record is not None:
            return record
        record = await self.repository.get(execution_id)
        if record is not None and self.shared and record.status.final:
            self._remember(record)  # final records never change: safe to keep
        return record

    def _remember(self, record: ExecutionRecord) -> None:
        self._recent[record.id] = record
        if len(self._recent) > self._cache_size:
            self._recent.popitem(last=False)

    async def flush(self) -> None:
        """Return once everything dirty now is committed."""
        if not self._dirty:
            return
        if self._flusher is None or self._flusher.done():
            await self._write(self._take())
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._urgent.set()
        self._wakeup.set()
        await waiter

    def _take(self) -> list[ExecutionRecord]:
        batch = list(self._dirty.values())
        self._dirty.clear()
        return batch

    async def _write(self, batch: list[ExecutionRecord]) -> None:
        if batch:
            await self.repository.upsert_many(batch, fenced=self.shared)

    async def _flush_forever(self) -> None:
        while not self._closed:
            await self._wakeup.wait()
            if not self._waiters and self._delay:
                # Nobody waits: let changes gather, so a short run's queued, running and final
                # states cost one row write instead of three.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self._delay)
            self._wakeup.clear()
            self._urgent.clear()
            waiters, self._waiters = self._waiters, []
            batch = self._take()
            try:
                await self._write(batch)
            except Exception as exc:
                log.exception("writing %d execution records failed; retrying", len(batch))
                for record in batch:  # keep them dirty unless changed since
                    self._dirty.setdefault(record.id, record)
                self._waiters.extend(waiters)
                self._wakeup.set()
                await asyncio.sleep(0.5)
                if self._closed:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
