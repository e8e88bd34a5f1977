"""A distributed runtime on the machine's PostgreSQL and Redis: started from the plain URL that
PostgreSQL tools write, and a worker that stops gracefully. The settings themselves:
tests/unit/config/test_runtime_mode.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nanobrain.config import load_settings
from nanobrain.core.registry import discover
from nanobrain.runtime.build import build_runtime
from nanobrain.runtime.events.redis import RedisEventBus
from nanobrain.runtime.executors.distributed import DistributedExecutor
from nanobrain.security.policy import LOCAL_ADMIN
from nanobrain.store.database import upgrade
from tests.support.backing import backing
from tests.support.server import Worker


def test_the_plain_postgresql_url_serves_a_distributed_runtime(tmp_path: Path) -> None:
    """`postgresql://` (what `backing` hands out) starts, migrates and runs an execution: it
    failed before with psycopg missing."""
    with backing("plainurl") as services:
        assert services.env["NANOBRAIN_DATABASE_URL"].startswith("postgresql://")
        settings = load_settings(environ={**services.env, "NANOBRAIN_DATA_DIR": str(tmp_path)})

        async def scenario() -> None:
            runtime = build_runtime(settings, discover(["nanobrain.examples"]))
            service = runtime.executions
            assert isinstance(service.executor, DistributedExecutor)
            assert isinstance(service.bus, RedisEventBus)
            await upgrade(runtime.engine)
            await service.start()
            try:
                echo = service.runnable("workflow", "echo", LOCAL_ADMIN)
                record = await service.submit(echo, {"message": "hi"}, LOCAL_ADMIN)
                stored = await service.records.repository.get(record.id)
                assert stored is not None and stored.input == {"message": "hi"}
                assert (await service.executor.queue.pushed_of([record.id])) == {record.id}
            finally:
                await runtime.close()

        asyncio.run(scenario())


def test_a_worker_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    with backing("stop") as services:
        worker = Worker(tmp_path, services.env).start()
        assert worker.stop() == 0
        assert "stopped" in worker.log()
