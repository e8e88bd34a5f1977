"""The executions table's status index holds only unfinished executions (migration 0005): the
start-up query that fails what a dead process left unfinished uses it, and finished rows, nearly
every row written, are not in it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.ids import new_id
from nanobrain.store.database import create_engine, upgrade
from nanobrain.store.executions import ExecutionRepository
from nanobrain.store.models import UNFINISHED

INDEX = "ix_executions_unfinished"
WHERE = str(UNFINISHED.compile(dialect=sqlite.dialect()))


def _record(status: ExecutionStatus) -> ExecutionRecord:
    record = ExecutionRecord(id=new_id(), workflow="echo", owner_id="someone")
    if status is not ExecutionStatus.QUEUED:
        record.transition(ExecutionStatus.RUNNING)
    if status.final:
        record.transition(status)
    return record


def test_only_unfinished_executions_are_in_the_status_index(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    rows = [_record(status) for status in ExecutionStatus for _ in range(3)]

    async def write_then_fail_unfinished() -> int:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
            repository = ExecutionRepository(engine)
            await repository.upsert_many(rows)
            return await repository.fail_unfinished("the test stopped it")
        finally:
            await engine.dispose()

    assert asyncio.run(write_then_fail_unfinished()) == 6  # the queued and the running ones
    with sqlite3.connect(path) as connection:
        indexes = dict(
            connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                ("executions",),
            )
        )
        plan = " ".join(
            str(step[-1])
            for step in connection.execute(
                f"EXPLAIN QUERY PLAN UPDATE executions SET status = 'failed' WHERE {WHERE}"
            )
        )
        statuses = dict(connection.execute("SELECT status, count(*) FROM executions GROUP BY 1"))
    assert "ix_executions_status" not in indexes
    assert indexes[INDEX].endswith("WHERE status IN ('queued', 'running')")
    assert INDEX in plan, plan
    assert statuses == {"succeeded": 3, "failed": 9, "cancelled": 3}
