"""After a Redis outage longer than `worker_timeout_seconds`, every worker's last heartbeat is old:
the recovery sweep must give the workers time to beat again before it takes any of them for dead
(and fails or re-runs the execution a live worker is running). In-process runtime, the shared
PostgreSQL, a private Redis that the test restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nanobrain.config import load_settings
from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.registry import discover
from nanobrain.runtime.build import build_runtime
from nanobrain.runtime.executors.distributed import DistributedExecutor
from nanobrain.security.policy import LOCAL_ADMIN
from nanobrain.store.database import upgrade
from tests.support.backing import backing
from tests.support.services import PrivateRedis

SWEEP, TIMEOUT = 0.25, 1.0


def test_a_redis_outage_does_not_pass_a_live_worker_for_dead(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    with backing("sweep", redis_url=redis_server.url) as services:
        settings = load_settings(
            environ={
                **services.env,
                "NANOBRAIN_DATA_DIR": str(tmp_path),
                "NANOBRAIN_RUNTIME__HEARTBEAT_SECONDS": str(SWEEP),
                "NANOBRAIN_RUNTIME__WORKER_TIMEOUT_SECONDS": str(TIMEOUT),
            }
        )

        async def scenario() -> None:
            runtime = build_runtime(settings, discover(["nanobrain.examples"]))
            service = runtime.executions
            executor = service.executor
            assert isinstance(executor, DistributedExecutor)
            await upgrade(runtime.engine)
            await service.start()  # its recovery sweep runs every SWEEP seconds
            try:
                # Worker w1 takes the job and runs it (as `nanobrain worker` would).
                simulation = service.runnable("workflow", "simulation", LOCAL_ADMIN)
                record = await service.submit(simulation, {"steps": 100}, LOCAL_ADMIN)
                redis = runtime.redis
                assert redis is not None
                queue = executor.queue
                await executor.heartbeats.beat("w1")
                taken = await redis.xreadgroup(queue.group, "w1", {queue.stream: ">"}, count=1)
                assert taken, "w1 took the job"
                assert await service.records.claim(record.id) is not None

                await asyncio.to_thread(redis_server.stop)
                await asyncio.sleep(TIMEOUT * 2)  # w1 cannot beat: Redis is out
                await asyncio.to_thread(redis_server.start)
                # The sweep goes round twice before w1's next beat gets through.
                await asyncio.sleep(SWEEP * 2.5)
                await executor.heartbeats.beat("w1")
                await asyncio.sleep(TIMEOUT)

                stored = await service.records.repository.get(record.id)
                assert stored is not None
                assert stored.status is ExecutionStatus.RUNNING and stored.attempts == 1, (
                    "the live worker's execution was settled as if the worker had died"
                )
                assert await redis.zscore(f"{services.prefix}:workers", "w1") is not None
            finally:
                await runtime.close()

        asyncio.run(scenario())
