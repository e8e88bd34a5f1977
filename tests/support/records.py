"""Execution records for the record-writer tests, and a flush retried as a client told
`Retry-After` retries it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.ids import new_id
from nanobrain.runtime.errors import StoreUnavailable
from nanobrain.runtime.records.base import ExecutionRecords
from nanobrain.store.executions import ExecutionRepository

BIG = 2**64


NEGATIVE = -(2**70)


def record(**values: Any) -> ExecutionRecord:
    fields: dict[str, Any] = {"id": new_id(), "workflow": "simulation", "owner_id": "u1"}
    fields.update(values)
    return ExecutionRecord(**fields)


def succeeded(**values: Any) -> ExecutionRecord:
    made = record(**values)
    made.transition(ExecutionStatus.RUNNING)
    made.transition(ExecutionStatus.SUCCEEDED)
    return made


# -- isolation -----------------------------------------------------------------------------------
async def written(engine: AsyncEngine, execution_id: str) -> ExecutionRecord:
    found = await ExecutionRepository(engine).get(execution_id)
    assert found is not None, f"execution {execution_id} was not written"
    return found


# -- a database that refuses writes ------------------------------------------------------------
async def flushed(records: ExecutionRecords, within: float) -> None:
    """`flush()`, retried as a client told `Retry-After` would, until it succeeds."""
    deadline = time.monotonic() + within
    while True:
        try:
            await records.flush()
            return
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
