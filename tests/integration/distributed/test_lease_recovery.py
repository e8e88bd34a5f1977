"""Recovery finds what a dead worker ran from its leases, not only from its pending deliveries: a
worker presumed dead while still alive may go on with a delivery whose pending entry recovery
already removed, and then die for real. Real PostgreSQL and Redis, in-process runtime."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nanobrain.config import load_settings
from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.registry import discover
from nanobrain.runtime.build import build_runtime
from nanobrain.runtime.executors.base import Job
from nanobrain.runtime.executors.distributed import DistributedExecutor
from nanobrain.runtime.executors.shares import Turn
from nanobrain.security.policy import user_with_role
from nanobrain.store.database import upgrade
from tests.support.backing import backing
from tests.support.waiting import wait_until_async

ALICE = user_with_role("alice", "alice", "user")


def test_a_lease_without_a_pending_delivery_is_recovered(tmp_path: Path) -> None:
    with backing("leases") as services:
        environ = {
            **services.env,
            "NANOBRAIN_DATA_DIR": str(tmp_path),
            "NANOBRAIN_RUNTIME__HEARTBEAT_SECONDS": "0.1",
            "NANOBRAIN_RUNTIME__WORKER_TIMEOUT_SECONDS": "0.3",
        }
        settings = load_settings(profile="production", environ={**environ, "JWT_SECRET": "x" * 40})

        async def scenario() -> None:
            runtime = build_runtime(settings, discover(["nanobrain.examples"]))
            await upgrade(runtime.engine)
            service = runtime.executions
            executor = service.executor
            assert isinstance(executor, DistributedExecutor)
            await service.start()
            try:
                simulation = service.runnable("workflow", "simulation", ALICE)
                record = await service.submit(simulation, {"steps": 1}, ALICE)
                job = Job(record.id, "workflow", "simulation", record.input, ALICE)
                # A worker took a copy of the job whose delivery recovery had already settled: it
                # holds the lease and runs the execution, with nothing pending in its name.
                ghost = "ghost-worker"
                message = executor.queue.encode(job)
                assert await executor.shares.acquire(job, ghost, message) is Turn.TAKEN
                assert await service.records.claim(record.id) is not None
                await executor.heartbeats.beat(ghost)
                assert await executor.queue.pending_of(ghost) == []

                # ... and then it dies: the recovery sweep (every heartbeat) settles it.
                async def recovered() -> bool:
                    return not await executor.shares.leased_jobs(ghost)

                await wait_until_async(recovered, 5, 0.05, "the ghost's lease recovered")
                stored = await service.records.get(record.id)
                assert stored is not None and stored.status is ExecutionStatus.QUEUED
                assert stored.attempts == 1  # retry-safe: it runs again, its turn kept for it
                redis = runtime.redis
                assert redis is not None
                assert await redis.hget(executor.shares.reserved_key, record.id) == b"alice"
                entries = await redis.xrange(executor.queue.stream)
                assert sum(record.id.encode() in fields[b"data"] for _, fields in entries) == 2
            finally:
                await runtime.close()

        asyncio.run(scenario())
