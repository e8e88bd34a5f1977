"""A waited execution runs in its caller's task (`LocalExecutor.admit` with `run_here`): two
cancellations can reach that task, and each must keep its meaning. In-process runtime on real
SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.ids import new_id
from nanobrain.runtime.service import ExecutionService
from nanobrain.security.policy import LOCAL_ADMIN
from tests.support.runtime import embedded_runtime
from tests.support.waiting import wait_until_async

LONG = {"steps": 200, "step_seconds": 0.05}
UVICORN_SHUTDOWN = "Task cancelled, timeout graceful shutdown exceeded"  # what uvicorn says


@asynccontextmanager
async def service(data_dir: Path) -> AsyncIterator[ExecutionService]:
    async with embedded_runtime(data_dir) as runtime:
        yield runtime.executions


async def started(service: ExecutionService, execution_id: str) -> ExecutionRecord:
    def progressing() -> ExecutionRecord | None:
        record = service.records.cached(execution_id)
        return record if record is not None and record.progress_fraction else None

    return await wait_until_async(progressing, what=f"execution {execution_id} started")


async def waited(service: ExecutionService, execution_id: str) -> ExecutionRecord:
    """What `POST /workflows/execute` with `wait: true` does: run it here, then wait."""
    simulation = service.runnable("workflow", "simulation", LOCAL_ADMIN)
    record = await service.submit(
        simulation, LONG, LOCAL_ADMIN, durable=False, run_here=True, execution_id=execution_id
    )
    return await service.wait(record, 30)


def test_a_waited_run_cut_off_with_its_caller_is_failed_as_interrupted(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with service(tmp_path) as executions:
            execution_id = new_id()
            caller = asyncio.create_task(waited(executions, execution_id))
            record = await started(executions, execution_id)
            caller.cancel(UVICORN_SHUTDOWN)  # the server stops: the request is cut off
            with pytest.raises(asyncio.CancelledError):
                await caller  # the caller still sees its own cancellation
            assert record.status is ExecutionStatus.FAILED
            assert record.error is not None and record.error["type"] == "interrupted"
            await executions.records.flush()
            stored = await executions.records.repository.get(execution_id)
            assert stored is not None and stored.status is ExecutionStatus.FAILED

    asyncio.run(scenario())


def test_a_user_cancel_of_a_waited_run_is_a_cancel_and_the_caller_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with service(tmp_path) as executions:
            execution_id = new_id()
            caller = asyncio.create_task(waited(executions, execution_id))
            await started(executions, execution_id)
            await executions.cancel(execution_id, LOCAL_ADMIN)
            record = await asyncio.wait_for(caller, 10)  # answers, not cancelled itself
            assert record.status is ExecutionStatus.CANCELLED and record.error is None
            assert not caller.cancelled()

    asyncio.run(scenario())


def test_a_user_cancel_then_the_callers_own_cancel_both_hold(tmp_path: Path) -> None:
    """The user cancels, and the request is cut off while the run ends: the execution is
    cancelled (the user asked first), and the caller still sees its own cancellation."""

    async def scenario() -> None:
        async with service(tmp_path) as executions:
            execution_id = new_id()
            caller = asyncio.create_task(waited(executions, execution_id))
            await started(executions, execution_id)
            await executions.cancel(execution_id, LOCAL_ADMIN)
            caller.cancel(UVICORN_SHUTDOWN)
            with pytest.raises(asyncio.CancelledError):
                await caller
            record = executions.records.cached(execution_id)
            assert record is not None and record.status is ExecutionStatus.CANCELLED

    asyncio.run(scenario())
