"""Runs executions as asyncio tasks in the server process, at most `max_concurrency` at once and
each principal at most its role's share of them (`runtime.fair_share`), served in turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from nanobrain.core.execution import ExecutionRecord
from nanobrain.runtime.errors import StoreUnavailable
from nanobrain.runtime.executors.base import SHUTDOWN, USER_CANCEL, Executor, Job, Load, Runner
from nanobrain.runtime.executors.slots import Slots

if TYPE_CHECKING:
    from nanobrain.runtime.records.base import ExecutionRecords

log = logging.getLogger(__name__)
STORE_REFUSED = {
    "type": "store_unavailable",
    "message": "not started: the database was not taking writes, so the request that asked for "
    "it was refused",
}


class LocalExecutor(Executor):
    def __init__(
        self,
        max_concurrency: int,
        shutdown_grace_seconds: float = 5.0,
        limits: Mapping[str, int] | None = None,
    ):
        self._slots = Slots(max_concurrency, limits)
        self._grace = shutdown_grace_seconds
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._jobs: dict[str, Job] = {}
        self._runner: Runner | None = None
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, runner: Runner) -> None:
        self._runner = runner
        self._loop = asyncio.get_running_loop()  # kept: each lookup is a getpid() system call

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def submit(self, job: Job) -> None:
        if self._runner is None or self._closing:
            raise RuntimeError("executor is not running")
        self._jobs[job.execution_id] = job
        task = asyncio.create_task(self._run(job), name=f"execution-{job.execution_id}")
        self._tasks[job.execution_id] = task

    async def admit(
        self,
        record: ExecutionRecord,
        job: Job | None,
        records: ExecutionRecords,
        *,
        durable: bool,
        run_here: bool,
    ) -> None:
        """Runs in the calling task (`run_here`) when a slot is free now (the caller waits for
        the outcome anyway: this saves a task and two hand-overs); else queues it (`submit`).

        Two cancellations can reach the calling task: this executor's (`cancel`, `stop`: one at
        most, with `job.cancel_reason` set), meant for the execution and taken back here; and
        the caller's own (the server stopping cuts off the request), which the run records as a
        shutdown and which the caller then sees."""
        if durable:
            try:
                await records.flush()
            except StoreUnavailable:
                # Refused (503): the run never starts, and its record, written once the database
                # takes writes again, says so.
                await records.refuse(record, dict(STORE_REFUSED), committed=False)
                raise
        if job is None:  # answered from the cache
            return
        user = job.user
        if not run_here or (
            self._runner is None or self._closing or not self._slots.try_take(user.id, user.role)
        ):
            await self.submit(job)
            return
        task = asyncio.current_task(self._loop)
        assert task is not None
        self._jobs[job.execution_id] = job
        self._tasks[job.execution_id] = task
        try:
            await self._runner.run(job)
        finally:
            self._slots.give(user.id)
            self._tasks.pop(job.execution_id, None)
            self._jobs.pop(job.execution_id, None)
            if job.cancel_reason is not None and task.cancelling():
                task.uncancel()  # this executor's, for the execution
        if task.cancelling():
            raise asyncio.CancelledError  # the caller's own, which the run absorbed

    async def _run(self, job: Job) -> None:
        assert self._runner is not None
        started = False
        try:
            await self._slots.take(job.user.id, job.user.role)
            started = True
            try:
                await self._runner.run(job)
            finally:
                self._slots.give(job.user.id)
        except asyncio.CancelledError:
            if not started:
                await self._runner.abandon(job, job.cancel_reason or USER_CANCEL)
        finally:
            self._tasks.pop(job.execution_id, None)
            self._jobs.pop(job.execution_id, None)

    async def load(self) -> Load:
        slots = self._slots
        return Load(
            running=slots.size - slots.free,
            capacity=slots.size,
            queued=slots.waiting,
            oldest_queued_seconds=slots.oldest_wait(),
        )

    async def cancel(self, execution_id: str) -> bool:
        return self._interrupt(execution_id, USER_CANCEL)

    def abort(self, execution_id: str) -> None:
        self._interrupt(execution_id, USER_CANCEL)

    def _interrupt(self, execution_id: str, reason: str) -> bool:
        task = self._tasks.get(execution_id)
        job = self._jobs.get(execution_id)
        if task is None or job is None or task.done():
            return False
        if job.cancel_reason is None:  # once: the run is already being interrupted otherwise
            job.cancel_reason = reason
            task.cancel(reason)
        return True

    async def stop(self) -> None:
        self._closing = True
        pending = list(self._tasks.values())
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.gather(*pending)), self._grace)
        for execution_id in list(self._tasks):
            self._interrupt(execution_id, SHUTDOWN)
        remaining = list(self._tasks.values())
        if remaining:
            # Bounded: a workflow that swallows its cancellation must not hold the shutdown.
            _, stuck = await asyncio.wait(remaining, timeout=max(1.0, self._grace))
            if stuck:
                log.error("%d execution(s) did not stop when cancelled; leaving them", len(stuck))
