"""Recovery in distributed mode at the seams a SIGKILL rarely hits on cue: a worker that died after
committing an outcome but before publishing it. Real PostgreSQL and Redis, in-process runtime."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nanobrain.config import load_settings
from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.registry import discover
from nanobrain.runtime.build import build_runtime
from nanobrain.runtime.executors.base import Job
from nanobrain.security.policy import LOCAL_ADMIN
from nanobrain.store.database import upgrade
from tests.support.backing import backing


def test_events_a_dead_worker_committed_but_never_published_are_completed(tmp_path: Path) -> None:
    with backing("recovery") as services:
        settings = load_settings(environ={**services.env, "NANOBRAIN_DATA_DIR": str(tmp_path)})

        async def scenario() -> None:
            runtime = build_runtime(settings, discover(["nanobrain.examples"]))
            await upgrade(runtime.engine)
            service = runtime.executions
            await service.start()
            try:
                echo = service.runnable("workflow", "echo", LOCAL_ADMIN)
                record = await service.submit(echo, {"message": "hi"}, LOCAL_ADMIN)
                # A worker takes it, runs it, commits the outcome, and dies before publishing.
                taken = await service.records.claim(record.id)
                assert taken is not None
                service.publisher.status(taken)
                taken.transition(ExecutionStatus.SUCCEEDED)
                taken.output = {"message": "hi"}
                taken.last_seq = await service.bus.last_seq(record.id) + 2
                assert await service.records.commit(taken, ExecutionStatus.RUNNING, 1)

                job = Job(record.id, "workflow", "echo", {"message": "hi"}, LOCAL_ADMIN)
                again = await service.runner.recover(
                    job, "its worker w stopped", max_attempts=3, cancelled=False
                )
                assert again is False  # it ended: nothing to run again
                events = [event async for event in service.bus.subscribe(record.id)]
                assert [(e.seq, e.type) for e in events] == [
                    (1, "status"), (2, "status"), (3, "result"), (4, "status")
                ]  # fmt: skip
                assert events[-1].final and events[-1].data == {"status": "succeeded"}
                assert events[2].data["output"] == {"message": "hi"}
                # Settling it again adds nothing.
                await service.runner.recover(job, "again", max_attempts=3, cancelled=False)
                assert await service.bus.last_seq(record.id) == 4
            finally:
                await runtime.close()

        asyncio.run(scenario())
