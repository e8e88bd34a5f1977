"""The records store of a process that runs every execution it records (embedded mode): the
record in memory is the truth, and the database a copy written behind it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.runtime.closing import INTERRUPTED, closing_events
from nanobrain.runtime.records.base import ExecutionRecords, conclude


class LocalRecords(ExecutionRecords):
    def add(self, record: ExecutionRecord) -> None:
        self._live[record.id] = record
        self.touch(record)

    async def claim(self, execution_id: str) -> ExecutionRecord | None:
        record = self.cached(execution_id) or await self.get(execution_id)
        if record is None or record.status is not ExecutionStatus.QUEUED:
            return None
        record.transition(ExecutionStatus.RUNNING)
        return record

    def status(self, record: ExecutionRecord) -> None:
        self.publisher.status(record)
        self.touch(record)

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
        conclude(record, status, output, error)
        self.publisher.announce(record, closing_events(record))
        self.touch(record)
        self.publisher.count(record)
        return True

    async def refuse(
        self, record: ExecutionRecord, error: dict[str, Any], *, committed: bool
    ) -> bool:
        if record.status.final:  # already replaced by the writer's own failed outcome
            return False
        record.transition(ExecutionStatus.FAILED)
        record.error = error
        self.announce(record)
        return True

    def announce(self, record: ExecutionRecord) -> None:
        self.publisher.announce(record, closing_events(record))
        self.touch(record)

    async def wait(self, record: ExecutionRecord, max_wait: float) -> ExecutionRecord:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.finished(record)), max_wait)
        return record

    async def cancel_unclaimed(self, record: ExecutionRecord) -> ExecutionRecord:
        return record  # the local executor holds every execution until it ends

    async def fail_unfinished(self) -> int:
        """Every execution in the database is this process's: those a previous run of it left
        unfinished ended with it."""
        return await self.repository.fail_unfinished(INTERRUPTED)

    async def _upsert(self, batch: list[ExecutionRecord]) -> None:
        await self.repository.upsert_many(batch)

    async def _write_replacement(
        self, record: ExecutionRecord, replacement: ExecutionRecord
    ) -> bool:
        await self.repository.upsert_many([replacement])
        return True
