"""The records store of a process among several (distributed mode): workers elsewhere run the
executions, so PostgreSQL's row is the truth. A run takes its execution by compare-and-set
(`claim`), writes progress only onto the row of the attempt it holds (fenced), and commits its
outcome by compare-and-set, so a worker presumed dead cannot overwrite what happened since.
Only the records this process runs are kept in memory, with final ones (which never change)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.runtime.closing import closing_events
from nanobrain.runtime.events.base import EventBus
from nanobrain.runtime.outages import OUTAGE_RETRY_SECONDS, unavailable
from nanobrain.runtime.records.base import ExecutionRecords, conclude
from nanobrain.store.executions import ExecutionRepository

log = logging.getLogger(__name__)


class SharedRecords(ExecutionRecords):
    def __init__(
        self,
        repository: ExecutionRepository,
        bus: EventBus,
        *,
        cache_size: int = 10_000,
        write_behind_seconds: float = 0.05,
        flush_timeout: float = 5.0,
        patience: float | None = 5.0,
    ):
        super().__init__(
            repository,
            bus,
            cache_size=cache_size,
            write_behind_seconds=write_behind_seconds,
            flush_timeout=flush_timeout,
        )
        # How long `finish` keeps trying to record an outcome through an outage of the database
        # or Redis (None, on workers: until it is recorded).
        self.patience = patience

    def add(self, record: ExecutionRecord) -> None:
        self.touch(record)  # the worker that runs it holds the live copy

    async def claim(self, execution_id: str) -> ExecutionRecord | None:
        """By compare-and-set on the row. A record added here and not written yet (a run's
        nested execution) is written first, for the claim to find it. When the claim fails on
        an execution that ended, its stream gets the closing events it may lack."""
        if self._unwritten(execution_id):
            await self.flush()
        record = await self.repository.claim(execution_id)
        if record is not None:
            self._live[record.id] = record
            return record
        ended = await self.get(execution_id)
        if ended is not None and ended.status.final:
            await self.publisher.complete(ended)
        return None

    def _unwritten(self, execution_id: str) -> bool:
        return execution_id in self._dirty or any(r.id == execution_id for r in self._writing)

    def status(self, record: ExecutionRecord) -> None:
        self.publisher.status(record)  # the states are written by `claim` and `commit`

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        record = self.cached(execution_id)
        if record is not None:
            return record
        record = await self.repository.get(execution_id)
        if record is not None and record.status.final:
            self._remember(record)  # final records never change: safe to keep
        return record

    async def finish(
        self,
        record: ExecutionRecord,
        status: ExecutionStatus,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        if record.status.final:
            return False
        observed, attempts = record.status, record.attempts
        conclude(record, status, output, error)
        events = closing_events(record)
        # A cancellation arriving meanwhile must not leave the outcome half recorded.
        finished = asyncio.ensure_future(self._settle_patiently(record, observed, attempts, events))
        try:
            if not await asyncio.shield(finished):
                return False
        except asyncio.CancelledError:
            await finished
            raise
        self.publisher.count(record)
        return True

    async def _settle(
        self,
        record: ExecutionRecord,
        observed: ExecutionStatus,
        attempts: int,
        events: list[tuple[str, Any]],
    ) -> bool:
        """Other processes act on the final event (a waiter reads the record then), so the
        outcome is committed first, numbered with the seq its final event will have, and the
        events are stored before the job is acknowledged."""
        bus = self.publisher.bus
        record.last_seq = await bus.last_seq(record.id) + len(events)
        if not await self.commit(record, observed, attempts):
            return False
        self.publisher.announce(record, events)
        await bus.flush()
        return True

    async def _settle_patiently(
        self,
        record: ExecutionRecord,
        observed: ExecutionStatus,
        attempts: int,
        events: list[tuple[str, Any]],
    ) -> bool:
        """`_settle`, tried again while the database or Redis is out. A try cut off by the
        outage may have committed the outcome anyway: when the next one finds the row already
        ended, the events the stored outcome lacks are published (`complete`)."""
        deadline = None if self.patience is None else time.monotonic() + self.patience
        tried = False
        while True:
            try:
                if await self._settle(record, observed, attempts, events):
                    return True
                if tried:
                    stored = await self.repository.get(record.id)
                    if stored is not None and stored.status.final:
                        await self.publisher.complete(stored)
                return False
            except Exception as exc:
                dependency = unavailable(exc)
                if dependency is None or (deadline is not None and time.monotonic() > deadline):
                    raise
                if not tried:
                    log.warning(
                        "recording the outcome of %s waits for the %s (%s)",
                        record.id,
                        dependency,
                        exc,
                    )
                tried = True
                await asyncio.sleep(OUTAGE_RETRY_SECONDS)

    async def refuse(
        self, record: ExecutionRecord, error: dict[str, Any], *, committed: bool
    ) -> bool:
        """Without asking Redis: this process published all the execution's events so far, so
        it numbers the closing ones itself (they wait in the bus's outbox while Redis is out). A
        `committed` record is ended by a compare-and-set, so False if a worker took it
        meanwhile; one the database did not take yet is written failed with the next batch
        that goes in."""
        if record.status.final:
            return False
        observed, attempts = record.status, record.attempts
        record.transition(ExecutionStatus.FAILED)
        record.error = error
        events = closing_events(record)
        record.last_seq += len(events)
        if not committed:
            self.touch(record)
        elif not await self.commit(record, observed, attempts):
            return False
        self.publisher.announce(record, events)
        return True

    def announce(self, record: ExecutionRecord) -> None:
        self.publisher.announce(record, closing_events(record))

    async def wait(self, record: ExecutionRecord, max_wait: float) -> ExecutionRecord:
        """Another process settles it: its final event tells when to read the row."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_wait):
                async with contextlib.aclosing(self.publisher.bus.subscribe(record.id)) as events:
                    async for event in events:
                        if event.final:
                            break
        return await self.get(record.id) or record

    async def cancel_unclaimed(self, record: ExecutionRecord) -> ExecutionRecord:
        """A queued execution no worker has taken yet is ended here, unless one takes it
        meanwhile."""
        if record.status is not ExecutionStatus.QUEUED:
            return record
        if await self.finish(record, ExecutionStatus.CANCELLED):
            return record
        return await self.get(record.id) or record

    async def fail_unfinished(self) -> int:
        return 0  # the workers' heartbeats tell which executions lost their worker

    async def _upsert(self, batch: list[ExecutionRecord]) -> None:
        await self.repository.upsert_many(batch, fenced=True)

    async def _write_replacement(
        self, record: ExecutionRecord, replacement: ExecutionRecord
    ) -> bool:
        return await self.repository.compare_and_set(replacement, record.status, record.attempts)
