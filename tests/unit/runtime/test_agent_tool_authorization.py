"""An agent's tool calls act as the account stands at each call, not as it stood when the agent's
turn began: a user demoted, disabled or deleted meanwhile has its next tool call refused. (The
runtime as the server builds it, on a real SQLite database; `run_nested` is the path every agent
tool call takes.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nanobrain.config import load_settings
from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.registry import discover
from nanobrain.runtime.build import build_runtime
from nanobrain.runtime.errors import Forbidden
from nanobrain.security.policy import user_with_role
from nanobrain.store.database import upgrade
from nanobrain.store.users import UserRepository


def test_a_tool_call_runs_as_the_account_stands_at_that_moment(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "NANOBRAIN_DATA_DIR": str(tmp_path),
            "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__ENABLED": "true",
            "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__CREDENTIAL_CACHE_SECONDS": "0",
        }
    )

    async def scenario() -> None:
        runtime = build_runtime(settings, discover(["nanobrain.examples"]))
        await upgrade(runtime.engine)
        await runtime.executions.start()
        service = runtime.executions
        try:
            users = UserRepository(runtime.engine)
            await users.add("root", "admin")  # so that ada is never the last admin
            record = await users.add("ada", "developer")
            started_as = user_with_role(record.id, "ada", "user")  # e.g. through a user-role key
            tool = service.runnable("tool", "gc-content", started_as)

            async def call() -> ExecutionStatus:
                return (await service.run_nested(tool, {"sequence": "GGCA"}, started_as)).status

            assert await call() is ExecutionStatus.SUCCEEDED  # never more than it started with
            await users.update(record.id, role="guest")
            with pytest.raises(Forbidden):
                await call()
            await users.update(record.id, role="admin")
            assert await call() is ExecutionStatus.SUCCEEDED
            await users.update(record.id, disabled=True)
            with pytest.raises(Forbidden):
                await call()
            await users.update(record.id, disabled=False)
            assert await call() is ExecutionStatus.SUCCEEDED
            await users.delete(record.id)
            with pytest.raises(Forbidden):
                await call()
        finally:
            await runtime.close()

    asyncio.run(scenario())
