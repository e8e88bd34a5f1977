"""The execution service in-process, as a server request drives it: SQLite and the in-process
event bus and executor, no server process. Submit, wait, status, events, cancel, refusals, and
what a restart finds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.runtime.errors import Conflict, InvalidInput, NotFound
from nanobrain.runtime.events.base import Event
from nanobrain.runtime.service import ExecutionService
from nanobrain.security.policy import LOCAL_ADMIN
from tests.support.runtime import embedded_runtime
from tests.support.waiting import wait_until_async

Scenario = Callable[[ExecutionService], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        async with embedded_runtime(tmp_path) as runtime:
            await scenario(runtime.executions)

    asyncio.run(main())


async def submit(service: ExecutionService, workflow: str, **raw_input: Any) -> ExecutionRecord:
    runnable = service.runnable("workflow", workflow, LOCAL_ADMIN)
    return await service.submit(runnable, raw_input, LOCAL_ADMIN)


async def events_of(service: ExecutionService, record: ExecutionRecord) -> list[Event]:
    """Every event of an execution, up to its final one."""
    collected: list[Event] = []
    async with asyncio.timeout(10):
        async for event in service.events(record, 0):
            collected.append(event)
            if event.final:
                break
    return collected


def statuses(events: list[Event]) -> list[str]:
    return [event.data["status"] for event in events if event.type == "status"]


def test_a_workflow_runs_to_its_output_and_its_events_close_the_stream(tmp_path: Path) -> None:
    async def scenario(service: ExecutionService) -> None:
        record = await submit(service, "echo", message="hello")
        done = await service.wait(record, 10)
        assert done.status is ExecutionStatus.SUCCEEDED and done.error is None
        assert done.output == {"message": "hello"}
        events = await events_of(service, done)
        assert [event.seq for event in events] == list(range(1, len(events) + 1))
        assert statuses(events) == ["queued", "running", "succeeded"]
        assert events[-1].final and events[-2].type == "result"
        assert all(event.execution_id == record.id for event in events)
        assert (await service.get(record.id, LOCAL_ADMIN)).status is ExecutionStatus.SUCCEEDED
        await service.records.flush()
        stored = await service.records.repository.get(record.id)
        assert stored is not None and stored.status is ExecutionStatus.SUCCEEDED

    run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("workflow", "error_type", "message"),
    [
        ("boom", "exception", "ValueError: kaboom"),
        ("refuse", "workflow_error", "refused: no"),
        ("wrong-output", "validation_error", "broke its declared types"),
    ],
)
def test_a_failing_workflow_is_recorded_failed_with_a_reason(
    tmp_path: Path, workflow: str, error_type: str, message: str
) -> None:
    async def scenario(service: ExecutionService) -> None:
        record = await service.wait(await submit(service, workflow), 10)
        assert record.status is ExecutionStatus.FAILED and record.output is None
        assert record.error is not None and record.error["type"] == error_type
        assert message in record.error["message"]
        events = await events_of(service, record)
        assert statuses(events) == ["queued", "running", "failed"]
        errors = [event.data for event in events if event.type == "error"]
        assert errors and message in str(errors[-1])

    run(tmp_path, scenario)


def test_a_run_past_its_timeout_fails_as_a_timeout(tmp_path: Path) -> None:
    async def scenario(service: ExecutionService) -> None:
        record = await service.wait(await submit(service, "sleepy", seconds=30), 10)
        assert record.status is ExecutionStatus.FAILED
        assert record.error is not None and record.error["type"] == "timeout"

    run(tmp_path, scenario)


def test_a_long_run_is_cancelled_at_once_and_stays_cancelled(tmp_path: Path) -> None:
    async def scenario(service: ExecutionService) -> None:
        record = await submit(service, "simulation", steps=200, step_seconds=0.05)
        await wait_until_async(lambda: record.progress_fraction, what="the simulation's progress")
        cancelled = await service.cancel(record.id, LOCAL_ADMIN)
        done = await service.wait(cancelled, 2)
        assert done.status is ExecutionStatus.CANCELLED and done.error is None
        fraction = done.progress_fraction
        assert fraction is not None and 0 < fraction < 0.5
        assert statuses(await events_of(service, done)) == ["queued", "running", "cancelled"]
        with pytest.raises(Conflict):
            await service.cancel(record.id, LOCAL_ADMIN)

    run(tmp_path, scenario)


def test_bad_input_and_unknown_names_are_refused_before_anything_is_recorded(
    tmp_path: Path,
) -> None:
    async def scenario(service: ExecutionService) -> None:
        with pytest.raises(InvalidInput):
            await submit(service, "simulation", steps="many")
        with pytest.raises(NotFound):
            service.runnable("workflow", "no-such-workflow", LOCAL_ADMIN)
        with pytest.raises(NotFound):
            await service.get("f" * 32, LOCAL_ADMIN)
        await service.records.flush()
        assert await service.records.repository.list(owner_id=None) == []

    run(tmp_path, scenario)


def test_a_restarted_runtime_reads_finished_executions_and_rebuilds_their_events(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        async with embedded_runtime(tmp_path) as first:
            record = await first.executions.wait(await submit(first.executions, "echo"), 10)
            before = await events_of(first.executions, record)
        async with embedded_runtime(tmp_path) as second:
            again = await second.executions.get(record.id, LOCAL_ADMIN)
            assert again.status is ExecutionStatus.SUCCEEDED and again.output == record.output
            after = await events_of(second.executions, again)
            assert after[-1].final and statuses(after)[-1] == "succeeded"
            assert after[-1].seq == before[-1].seq

    asyncio.run(main())


def test_a_run_cut_off_by_a_stop_is_failed_as_interrupted(tmp_path: Path) -> None:
    async def main() -> None:
        async with embedded_runtime(
            tmp_path, NANOBRAIN_RUNTIME__SHUTDOWN_GRACE_SECONDS="0.1"
        ) as runtime:
            record = await submit(runtime.executions, "fragile", seconds=30)
            await wait_until_async(lambda: record.status is ExecutionStatus.RUNNING)
        assert record.status is ExecutionStatus.FAILED
        assert record.error is not None and record.error["type"] == "interrupted"
        async with embedded_runtime(tmp_path) as restarted:
            stored = await restarted.executions.get(record.id, LOCAL_ADMIN)
            assert stored.status is ExecutionStatus.FAILED

    asyncio.run(main())
