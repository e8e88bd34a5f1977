"""Runs executions as asyncio tasks in the server process, at most `max_concurrency` at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from nanobrain.runtime.executors.base import SHUTDOWN, USER_CANCEL, Executor, Job, Runner

log = logging.getLogger(__name__)


class Slots:
    """At most `size` holders at once, served in order. Taking a free slot is a counter check
    (`asyncio.Semaphore` spends five Python calls per use on a no-op execution's path)."""

    def __init__(self, size: int):
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as the task was cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """Return a slot: straight to the first waiter, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class LocalExecutor(Executor):
    in_process = True

    def __init__(self, max_concurrency: int, shutdown_grace_seconds: float = 5.0):
        self._slots = Slots(max_concurrency)
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

    async def run_here(self, job: Job) -> bool:
        """Run in the calling task when a slot is free now (the caller waits for the outcome
        anyway: this saves a task and two hand-overs); False leaves it to `submit`.

        Two cancellations can reach the task: this executor's (`cancel`, `stop`: one at most,
        with `job.cancel_reason` set), meant for the execution and taken back here; and the
        caller's own (the server stopping cuts off the request), which the run records as a
        shutdown and which the caller then sees."""
        if self._runner is None or self._closing or not self._slots.try_take():
            return False
        task = asyncio.current_task(self._loop)
        assert task is not None
        self._jobs[job.execution_id] = job
        self._tasks[job.execution_id] = task
        try:
            await self._runner.run(job)
        finally:
            self._slots.give()
            self._tasks.pop(job.execution_id, None)
            self._jobs.pop(job.execution_id, None)
            if job.cancel_reason is not None and task.cancelling():
                task.uncancel()  # this executor's, for the execution
        if task.cancelling():
            raise asyncio.CancelledError  # the caller's own, which the run absorbed
        return True

    async def _run(self, job: Job) -> None:
        assert self._runner is not None
        started = False
        try:
            await self._slots.take()
            started = True
            try:
                await self._runner.run(job)
            finally:
                self._slots.give()
        except asyncio.CancelledError:
            if not started:
                await self._runner.abandon(job, job.cancel_reason or USER_CANCEL)
        finally:
            self._tasks.pop(job.execution_id, None)
            self._jobs.pop(job.execution_id, None)

    async def cancel(self, execution_id: str) -> bool:
        return self._interrupt(execution_id, USER_CANCEL)

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
