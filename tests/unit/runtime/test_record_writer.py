"""The execution record writer (`runtime/records/`) against real databases: one record it cannot
store never holds up the others, a database that refuses writes is retried with backoff and
reported, and values JSON allows (integers past 64 bits) are stored exactly.

The SQLite "disk that refuses writes" is the database file and its write-ahead log made immutable
(`chattr +i`, which holds even for root): every write fails with a disk I/O error, reads go on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core import jsoncodec
from nanobrain.core.execution import ExecutionStatus
from nanobrain.crypto.keyring import KeyRing
from nanobrain.observability.metrics import RECORD_WRITE_FAILURES
from nanobrain.runtime.errors import StoreUnavailable
from nanobrain.runtime.events.memory import MemoryEventBus
from nanobrain.runtime.records.local import LocalRecords
from nanobrain.runtime.records.unwritable import UNWRITABLE
from nanobrain.store.database import create_engine, upgrade
from nanobrain.store.executions import ExecutionRepository
from tests.support.records import BIG, NEGATIVE, flushed, record, succeeded, written

T = TypeVar("T")


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def sqlite(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    return engine


def unavailable_failures() -> float:
    value = RECORD_WRITE_FAILURES.labels("unavailable")._value.get()
    return float(value)


@contextlib.contextmanager
def refusing_writes(database: Path) -> Iterator[None]:
    """The SQLite database and its write-ahead log immutable: writes fail, reads work."""
    files = [database, database.with_name(database.name + "-wal")]
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    try:
        for file in files:
            subprocess.run(["chattr", "+i", str(file)], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"this file system cannot make files immutable: {exc.stderr!r}")
    try:
        yield
    finally:
        for file in files:
            subprocess.run(["chattr", "-i", str(file)], check=False, capture_output=True)


# -- values ----------------------------------------------------------------------------------------
def test_integers_past_64_bits_are_written_and_read_exactly() -> None:
    value = {"seed": BIG, "negative": NEGATIVE, "deep": [{"n": 2**200}], "plain": 7, "ok": True}
    text = jsoncodec.dumps(value)
    assert text == (
        b'{"seed":18446744073709551616,"negative":-1180591620717411303424,'
        b'"deep":[{"n":1606938044258990275541962092341162602522202993782792835301376}],'
        b'"plain":7,"ok":true}'
    )
    assert jsoncodec.loads(text) == value
    assert jsoncodec.loads(text.decode()) == value
    # orjson alone would read them as floats, and refuse to write them.
    assert jsoncodec.loads(b"[18446744073709551617]") == [BIG + 1]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("\ud800", "lone surrogate"),
        (nested(300), "nests deeper than 254 levels"),
        ({"a": object()}, "of type object"),
        ({1: "one"}, "keys that are not strings"),
        ([nested(300), BIG], "nests deeper than 254 levels"),
    ],
)
def test_what_json_cannot_hold_is_refused_with_a_reason(value: Any, reason: str) -> None:
    with pytest.raises(jsoncodec.Unencodable, match=reason):
        jsoncodec.dumps(value)


def test_not_a_number_is_not_json() -> None:
    with pytest.raises(ValueError):
        jsoncodec.loads(b'{"x": NaN}')
    assert jsoncodec.dumps({"x": float("nan")}) == b'{"x":null}'  # as orjson and pydantic write it


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_sqlite_stores_big_integers_exactly(tmp_path: Path, encrypted: bool) -> None:
    ring = KeyRing([os.urandom(32)]) if encrypted else None

    async def scenario() -> None:
        engine = await sqlite(tmp_path / "db.sqlite")
        repository = ExecutionRepository(engine, ring)
        inside = succeeded(input={"seed": BIG, "other": [NEGATIVE]}, output={"n": NEGATIVE})
        bare = succeeded(input={"seed": 1}, output=BIG)  # a bare number in a JSON column
        await repository.upsert_many([inside, bare])
        again = await repository.get(inside.id)
        assert again is not None and again.input == {"seed": BIG, "other": [NEGATIVE]}
        assert again.output == {"n": NEGATIVE}
        again = await repository.get(bare.id)
        assert again is not None and again.output == BIG and isinstance(again.output, int)
        listed = await repository.list(owner_id="u1")
        assert {item.id: item.output for item in listed} == {
            inside.id: {"n": NEGATIVE},
            bare.id: BIG,
        }
        await engine.dispose()

    asyncio.run(scenario())


def test_one_record_the_store_cannot_hold_fails_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = await sqlite(tmp_path / "db.sqlite")
        records = LocalRecords(
            ExecutionRepository(engine), MemoryEventBus(), write_behind_seconds=0.2
        )
        replaced: list[tuple[str, bool]] = []
        records.on_unwritable = lambda made, was_final: replaced.append((made.id, was_final))
        await records.start()
        before = succeeded(input={"seed": BIG}, output={"n": BIG})
        bad = succeeded(input={"seed": 1}, output={"text": "\ud800"})  # no runner checked it
        after = record(input={"seed": NEGATIVE})
        for made in (before, bad, after):
            records.add(made)
        await asyncio.wait_for(records.flush(), 10)  # one batch: it must not wedge

        assert (await written(engine, before.id)).output == {"n": BIG}
        assert (await written(engine, after.id)).status is ExecutionStatus.QUEUED
        stored = await written(engine, bad.id)
        assert stored.status is ExecutionStatus.FAILED
        assert stored.input == {"seed": 1} and stored.output is None
        assert stored.error is not None and stored.error["type"] == UNWRITABLE
        assert "its output" in stored.error["message"]
        assert "surrogate" in stored.error["message"]
        # The copy in memory (what status and results read) says the same.
        assert bad.status is ExecutionStatus.FAILED and bad.error == stored.error
        assert replaced == [(bad.id, True)]
        assert records.check()["status"] == "ok" and records.backlog == 0
        await records.close()
        await engine.dispose()

    asyncio.run(scenario())


def test_a_live_record_replaced_by_its_failure_is_settled(tmp_path: Path) -> None:
    """A running execution whose progress cannot be stored ends failed, and whoever waits for
    its end is woken."""

    async def scenario() -> None:
        engine = await sqlite(tmp_path / "db.sqlite")
        records = LocalRecords(
            ExecutionRepository(engine), MemoryEventBus(), write_behind_seconds=0
        )
        await records.start()
        running = record()
        records.add(running)
        await records.flush()
        assert await records.claim(running.id) is running
        ended = records.finished(running)
        running.progress_message = "\udcff"
        records.touch(running)
        await asyncio.wait_for(records.flush(), 10)
        await asyncio.wait_for(ended, 1)
        stored = await written(engine, running.id)
        assert stored.status is ExecutionStatus.FAILED
        assert stored.error is not None and "progress message" in stored.error["message"]
        assert stored.progress_message is None
        await records.close()
        await engine.dispose()

    asyncio.run(scenario())


@pytest.mark.slow  # counts backoff attempts over four seconds
def test_a_database_refusing_writes_is_retried_with_backoff_then_caught_up(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite"

    async def scenario() -> None:
        engine = await sqlite(database)
        records = LocalRecords(
            ExecutionRepository(engine), MemoryEventBus(), write_behind_seconds=0, flush_timeout=1.0
        )
        await records.start()
        first = succeeded(input={"seed": 1})
        records.add(first)
        await records.flush()
        refused_before = unavailable_failures()
        waiting = [succeeded(input={"seed": index}) for index in range(5)]
        with refusing_writes(database):
            for made in waiting:
                records.add(made)
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as refused:
                await records.flush()
            assert 0.9 <= time.monotonic() - started < 3  # bounded by flush_timeout
            assert refused.value.status == 503
            assert refused.value.headers is not None and "Retry-After" in refused.value.headers
            # Once it has refused for that long, callers are told at once.
            await asyncio.sleep(0.2)
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await records.flush()
            assert time.monotonic() - started < 0.5
            check = records.check()
            assert check["status"] == "down" and check["backlog"] == 5
            assert check["oldest_unwritten_seconds"] >= 1.0
            assert check["error"] == "OperationalError"
            await asyncio.sleep(3)
            attempts = unavailable_failures() - refused_before
            # Backoff 0.1, 0.2, 0.4, ... s: about six attempts in four seconds, not a tight loop.
            assert 3 <= attempts <= 9, attempts
        # Writable again: a caller that retries (as Retry-After says) gets its commit, and
        # everything is written, nothing lost.
        await flushed(records, 10)
        for made in (first, *waiting):
            assert (await written(engine, made.id)).input == made.input
        assert records.check() == {"status": "ok", "backlog": 0, "oldest_unwritten_seconds": 0}
        await records.close()
        await engine.dispose()

    asyncio.run(scenario())


@pytest.mark.slow  # waits out a one-second deadline
def test_closing_while_the_database_refuses_writes_keeps_its_deadline(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite"

    async def scenario() -> None:
        engine = await sqlite(database)
        records = LocalRecords(
            ExecutionRepository(engine), MemoryEventBus(), write_behind_seconds=0, flush_timeout=1.0
        )
        await records.start()
        records.add(record())
        await records.flush()
        with refusing_writes(database):
            records.add(record())
            started = time.monotonic()
            await asyncio.wait_for(records.close(), 10)
            assert time.monotonic() - started < 2.5
        await engine.dispose()

    asyncio.run(scenario())
