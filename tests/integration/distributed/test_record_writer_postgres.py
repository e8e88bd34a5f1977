"""The execution record writer against PostgreSQL: values past 64 bits stored exactly, a value
PostgreSQL refuses fails only its record (and an audit entry it refuses holds nothing up), and a
PostgreSQL stopped and started again loses nothing. On SQLite:
tests/unit/runtime/test_record_writer.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from nanobrain.core.execution import ExecutionStatus
from nanobrain.runtime.errors import StoreUnavailable
from nanobrain.runtime.events.memory import MemoryEventBus
from nanobrain.runtime.records.local import LocalRecords
from nanobrain.runtime.records.unwritable import UNWRITABLE
from nanobrain.store.database import create_engine, upgrade
from nanobrain.store.executions import ExecutionRepository
from tests.support.backing import backing
from tests.support.records import BIG, NEGATIVE, flushed, succeeded, written
from tests.support.services import PrivatePostgres


def test_postgresql_stores_big_integers_exactly() -> None:
    with backing("bigint") as services:

        async def scenario() -> None:
            engine = create_engine(services.env["NANOBRAIN_DATABASE_URL"])
            await upgrade(engine)
            repository = ExecutionRepository(engine)
            made = succeeded(input={"seed": BIG}, output=NEGATIVE)
            await repository.upsert_many([made])
            again = await repository.get(made.id)
            assert again is not None and again.input == {"seed": BIG}
            assert again.output == NEGATIVE
            await engine.dispose()

        asyncio.run(scenario())


def test_postgresql_refusing_one_value_fails_only_its_record() -> None:
    """PostgreSQL's text cannot hold NUL (SQLite's can): the refusal comes from the database."""
    with backing("unwritable") as services:

        async def scenario() -> None:
            engine = create_engine(services.env["NANOBRAIN_DATABASE_URL"])
            await upgrade(engine)
            records = LocalRecords(
                ExecutionRepository(engine), MemoryEventBus(), write_behind_seconds=0.2
            )
            await records.start()
            good = [succeeded(output={"n": index}) for index in range(3)]
            bad = succeeded(output={"n": -1}, progress_message="a\x00b")
            for made in (good[0], bad, *good[1:]):
                records.add(made)
            await asyncio.wait_for(records.flush(), 10)
            for index, made in enumerate(good):
                assert (await written(engine, made.id)).output == {"n": index}
            stored = await written(engine, bad.id)
            assert stored.status is ExecutionStatus.FAILED
            assert stored.error is not None and stored.error["type"] == UNWRITABLE
            await records.close()
            await engine.dispose()

        asyncio.run(scenario())


# -- a PostgreSQL server that stops and comes back ---------------------------------------------
@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this test's own, which it stops and starts (the shared one is never)."""
    instance = PrivatePostgres().init().start()
    try:
        yield instance
    finally:
        instance.remove()


def test_postgresql_stopped_and_started_again_loses_nothing(
    private_postgres: PrivatePostgres,
) -> None:
    async def scenario() -> None:
        engine = create_engine(private_postgres.url)
        await upgrade(engine)
        records = LocalRecords(
            ExecutionRepository(engine), MemoryEventBus(), write_behind_seconds=0, flush_timeout=1.0
        )
        await records.start()
        during = [succeeded(input={"seed": BIG + index}) for index in range(4)]
        await asyncio.to_thread(private_postgres.stop)
        for made in during:
            records.add(made)
        with pytest.raises(StoreUnavailable):
            await records.flush()
        assert records.check()["status"] == "down"
        await asyncio.to_thread(private_postgres.start)
        await flushed(records, 20)
        assert records.backlog == 0
        for made in during:
            assert (await written(engine, made.id)).input == made.input
        assert records.check()["status"] == "ok"
        await records.close()
        await engine.dispose()

    asyncio.run(scenario())


def test_an_audit_entry_postgresql_refuses_does_not_hold_up_the_audit_log() -> None:
    """A failed sign-in as `a\\x00b` is an audit entry PostgreSQL's text cannot hold."""
    from nanobrain.security.audit import AuditLog
    from nanobrain.store.audit import AuditRepository

    with backing("audit") as services:

        async def scenario() -> None:
            engine = create_engine(services.env["NANOBRAIN_DATABASE_URL"])
            await upgrade(engine)
            audit = AuditLog(AuditRepository(engine))
            for name in ("before", "a\x00b", "after"):
                audit.record("login", None, actor_name=name, outcome="failure")
            await asyncio.wait_for(audit.flush(), 10)
            entries = await AuditRepository(engine).query(action="login")
            assert {entry["actor"] for entry in entries} == {"before", "a\ufffdb", "after"}
            altered = next(entry for entry in entries if entry["actor"] == "a\ufffdb")
            assert altered["detail"] == {"altered_to_store": True}
            audit.record("login", None, actor_name="later", outcome="failure")
            await audit.flush()  # nothing left behind to fail again
            assert len(await AuditRepository(engine).query(action="login")) == 4
            await engine.dispose()

        asyncio.run(scenario())
