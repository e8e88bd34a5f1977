"""The SQLite fast path for whole rows (`nanobrain.store.sqlite_rows`): a row written straight to
the driver must be stored, byte for byte, as SQLAlchemy stores it, and read back the same."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.ids import new_id
from nanobrain.store.audit import AuditRepository
from nanobrain.store.bulk import SqlAlchemyBulkWriter, SqliteBulkWriter
from nanobrain.store.database import create_engine, upgrade
from nanobrain.store.executions import ExecutionRepository, record_to_row
from nanobrain.store.models import AuditRow, ExecutionRow
from nanobrain.store.sqlite_rows import SqliteRows, sqlite_datetime

T = TypeVar("T")

EXECUTION_COLUMNS = [column.name for column in ExecutionRow.__table__.columns]
AUDIT_COLUMNS = [column.name for column in AuditRow.__table__.columns]

# The same rows through SQLAlchemy's insert (... on conflict), to compare the fast path with.
EXECUTIONS_BY_SQLALCHEMY = SqlAlchemyBulkWriter(
    "sqlite", cast(Table, ExecutionRow.__table__), EXECUTION_COLUMNS, upsert_key="id"
)
AUDIT_BY_SQLALCHEMY = SqlAlchemyBulkWriter(
    "sqlite", cast(Table, AuditRow.__table__), [name for name in AUDIT_COLUMNS if name != "id"]
)

PLUS_5 = timezone(timedelta(hours=5))
MINUS_3_30 = timezone(-timedelta(hours=3, minutes=30))
WHOLE_SECOND = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
UNICODE = 'héllo wörld ✓ 日本語 🚀 \u0000 "quoted" \\ back'


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def database(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    return engine


def raw_row(path: Path, table: str, key: str, value: Any, columns: list[str]) -> list[Any]:
    """Every column's stored value and SQLite storage class, as the driver sees them."""
    selected = ", ".join(f'"{name}", typeof("{name}")' for name in columns)
    with sqlite3.connect(path) as connection:
        row = connection.execute(
            f'SELECT {selected} FROM "{table}" WHERE "{key}" = ?', (value,)
        ).fetchone()
    assert row is not None, f"no {table} row with {key} = {value!r}"
    return list(row)


def stored(
    path: Path, table: str, key: str, value: Any, columns: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """One row's stored values and storage classes, by column."""
    row = raw_row(path, table, key, value, columns)
    return dict(zip(columns, row[::2], strict=True)), dict(zip(columns, row[1::2], strict=True))


def records() -> list[ExecutionRecord]:
    """Rows covering each conversion: whole-second and non-UTC datetimes, None and nested JSON,
    JSON scalars (SQLite's numeric affinity), unicode text, floats and integers."""
    return [
        ExecutionRecord(
            id=new_id(),
            workflow="wörkflow/ünïcode",
            owner_id="owner-1",
            status=ExecutionStatus.RUNNING,
            input={
                "prompt": UNICODE,
                "nested": {"list": [1, 2.5, None, True, False, {"deep": []}], "empty": {}},
                "big": 2**53 + 1,
            },
            output=None,
            error=None,
            artifacts=[{"name": "a.txt", "size": 3, "meta": {"type": "text/plain"}}],
            progress_fraction=0.5,
            progress_message="½ done — " + UNICODE,
            progress_step="step ✓",
            session_id="session-1",
            request_id="request-1",
            routed_from="node-β",
            last_seq=3,
            attempts=1,
            created_at=WHOLE_SECOND,  # microsecond == 0
            started_at=datetime(2024, 5, 6, 12, 8, 9, 250000, tzinfo=PLUS_5),
            finished_at=None,
        ),
        ExecutionRecord(
            id=new_id(),
            workflow="w",
            owner_id="owner-2",
            kind="chat",
            status=ExecutionStatus.FAILED,
            input=42,  # a JSON number: stored as an integer by SQLite's numeric affinity
            output={"answer": [{"text": UNICODE, "score": 0.125}], "none": None},
            error={"type": "boom", "message": "ça a échoué", "trace": ["a", "b"]},
            artifacts=[],
            progress_fraction=1,
            last_seq=7,
            attempts=2,
            created_at=datetime(2023, 12, 31, 22, 0, 0, tzinfo=MINUS_3_30),  # next day in UTC
            started_at=datetime(2024, 1, 1, 1, 30, 0, 1, tzinfo=UTC),
            finished_at=datetime(2024, 1, 1, 1, 30, 0, 999999, tzinfo=ZoneInfo("Europe/Paris")),
        ),
        ExecutionRecord(
            id=new_id(),
            workflow="w",
            owner_id="owner-3",
            input="just a string",
            output=[1, "two", None, {"three": 3.0}],
            artifacts=[],
            created_at=datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=ZoneInfo("UTC")),
        ),
    ]


def assert_same_instants(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal rows, datetimes compared as instants (and read back in UTC)."""
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, datetime):
            assert got[name] is not None, name
            assert got[name].utcoffset() == timedelta(0), name
            assert got[name] == value, name  # aware datetimes compare as instants
        else:
            assert got[name] == value, name
    assert got == expected


# -- sqlite_datetime ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (None, None),
        (datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), "2024-05-06 07:08:09.000000"),
        (datetime(2024, 5, 6, 7, 8, 9, 1, tzinfo=UTC), "2024-05-06 07:08:09.000001"),
        (datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC), "2024-05-06 07:08:09.120000"),
        (datetime(2024, 5, 6, 12, 8, 9, tzinfo=PLUS_5), "2024-05-06 07:08:09.000000"),
        (datetime(2024, 1, 1, 1, 0, 0, 5, tzinfo=PLUS_5), "2023-12-31 20:00:00.000005"),
        (
            datetime(2024, 7, 1, 2, 0, 0, tzinfo=ZoneInfo("Europe/Paris")),
            "2024-07-01 00:00:00.000000",
        ),
        (datetime(2024, 7, 1, 2, 0, 0, tzinfo=ZoneInfo("UTC")), "2024-07-01 02:00:00.000000"),
    ],
)
def test_sqlite_datetime_is_sqlalchemys_utc_text(
    value: datetime | None, stored: str | None
) -> None:
    assert sqlite_datetime(value) == stored


# -- executions: the fast path against SQLAlchemy's ----------------------------------------------
def test_fast_path_stores_exactly_what_sqlalchemy_stores(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    originals = records()
    pairs = [(record, replace(record, id=new_id())) for record in originals]

    async def scenario() -> tuple[list[ExecutionRecord | None], list[ExecutionRecord | None]]:
        engine = await database(path)
        fast = ExecutionRepository(engine)
        slow = ExecutionRepository(engine)
        slow._writer = EXECUTIONS_BY_SQLALCHEMY
        assert isinstance(fast._writer, SqliteBulkWriter), "the fast path is for SQLite"
        await fast.upsert_many([record for record, _ in pairs])
        await slow.upsert_many([copy for _, copy in pairs])
        fast_read = [await fast.get(record.id) for record, _ in pairs]
        slow_read = [await fast.get(copy.id) for _, copy in pairs]
        await engine.dispose()
        return fast_read, slow_read

    fast_read, slow_read = run(scenario())
    columns = [name for name in EXECUTION_COLUMNS if name != "id"]
    for record, copy in pairs:
        by_fast = raw_row(path, "executions", "id", record.id, columns)
        by_sqlalchemy = raw_row(path, "executions", "id", copy.id, columns)
        assert by_fast == by_sqlalchemy

    # And what SQLAlchemy stores is what we think it is (so the comparison means something).
    first, _ = stored(path, "executions", "id", pairs[0][0].id, columns)
    assert first["created_at"] == "2024-05-06 07:08:09.000000"
    assert first["started_at"] == "2024-05-06 07:08:09.250000"
    assert first["finished_at"] is None
    assert first["output"] == "null"  # JSON None is JSON null, not SQL NULL
    assert first["status"] == "running"
    assert first["progress_message"] == "½ done — " + UNICODE
    second, second_types = stored(path, "executions", "id", pairs[1][0].id, columns)
    assert (second["input"], second_types["input"]) == (42, "integer")
    assert second["created_at"] == "2024-01-01 01:30:00.000000"

    for record, got in zip(originals, fast_read, strict=True):
        assert got is not None
        assert_same_instants(record_to_row(got), record_to_row(record))
    for (record, copy), got in zip(pairs, slow_read, strict=True):
        assert got is not None
        assert got.id == copy.id
        assert_same_instants({**record_to_row(got), "id": record.id}, record_to_row(record))


@pytest.mark.parametrize(
    ("first", "then"), [("fast", "fast"), ("sqlalchemy", "fast"), ("fast", "sqlalchemy")]
)
def test_upsert_of_an_existing_id_updates_it(tmp_path: Path, first: str, then: str) -> None:
    path = tmp_path / "store.db"
    record = records()[0]
    other = records()[2]

    async def scenario() -> tuple[ExecutionRecord | None, ExecutionRecord | None]:
        engine = await database(path)
        repositories = {
            "fast": ExecutionRepository(engine),
            "sqlalchemy": ExecutionRepository(engine),
        }
        repositories["sqlalchemy"]._writer = EXECUTIONS_BY_SQLALCHEMY
        await repositories[first].upsert_many([record, other])
        record.status = ExecutionStatus.SUCCEEDED
        record.output = {"answer": "✓", "items": [1, {"x": None}]}
        record.finished_at = datetime(2024, 5, 6, 12, 9, 0, tzinfo=PLUS_5)
        record.progress_fraction = 1.0
        record.progress_message = None
        record.last_seq = 9
        await repositories[then].upsert_many([record])
        got = await repositories["fast"].get(record.id)
        untouched = await repositories["fast"].get(other.id)
        await engine.dispose()
        return got, untouched

    got, untouched = run(scenario())
    assert got is not None
    assert got.status is ExecutionStatus.SUCCEEDED
    assert got.output == {"answer": "✓", "items": [1, {"x": None}]}
    assert_same_instants(record_to_row(got), record_to_row(record))
    assert untouched is not None
    assert_same_instants(record_to_row(untouched), record_to_row(other))
    with sqlite3.connect(path) as connection:
        count = connection.execute("SELECT count(*) FROM executions").fetchone()[0]
        finished = connection.execute(
            "SELECT finished_at FROM executions WHERE id = ?", (record.id,)
        ).fetchone()[0]
    assert count == 2
    assert finished == "2024-05-06 07:09:00.000000"


def test_fast_path_rows_sort_and_filter_with_sqlalchemys(tmp_path: Path) -> None:
    """`list` pages by `(created_at, id)` compared as stored text: rows from both paths, at whole
    seconds and not, must sort as instants and page without loss."""
    path = tmp_path / "store.db"
    base = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    offsets = [0, 500_000, 1_000_000, 1_000_001, 2_000_000, 2_999_999]
    rows = [
        ExecutionRecord(
            id=f"{index:032x}",
            workflow="w",
            owner_id="o",
            created_at=(base + timedelta(microseconds=offset)).astimezone(PLUS_5),
        )
        for index, offset in enumerate(offsets)
    ]

    async def scenario() -> list[list[str]]:
        engine = await database(path)
        fast = ExecutionRepository(engine)
        slow = ExecutionRepository(engine)
        slow._sqlite = False
        await fast.upsert_many(rows[::2])
        await slow.upsert_many(rows[1::2])
        pages: list[list[str]] = []
        after: tuple[datetime, str] | None = None
        for _ in range(len(rows)):  # bounded: a wrong comparison could page forever
            page = await fast.list(owner_id="o", limit=2, after=after)
            if not page:
                break
            pages.append([record.id for record in page])
            after = (page[-1].created_at, page[-1].id)
        await engine.dispose()
        return pages

    pages = run(scenario())
    expected = [record.id for record in reversed(rows)]
    assert [execution_id for page in pages for execution_id in page] == expected


# -- the audit log ----------------------------------------------------------------------------
def audit_entries() -> list[dict[str, Any]]:
    return [
        {
            "at": datetime(2024, 5, 6, 12, 8, 9, tzinfo=PLUS_5),  # whole second, not UTC
            "actor_id": "u1",
            "actor": "alice ✓",
            "action": "auth.login",
            "target": None,
            "outcome": "success",
            "client": "127.0.0.1",
            "request_id": "req-1",
            "detail": {"method": "password", "nested": {"ok": True, "ünï": ["✓", None]}},
        },
        {
            "at": datetime(2024, 5, 6, 7, 8, 10, 250, tzinfo=UTC),
            "actor_id": None,
            "actor": None,
            "action": "execution.create",
            "target": "exec-1",
            "outcome": "denied",
            "client": None,
            "request_id": None,
            "detail": None,
        },
        {
            "at": datetime(2024, 5, 6, 7, 8, 11, tzinfo=UTC),
            "actor_id": "u2",
            "actor": "bob",
            "action": "auth_login",  # `_` must not match the `auth.` prefix as a LIKE wildcard
            "target": "日本語",
            "outcome": "success",
            "client": "::1",
            "request_id": "req-3",
            "detail": {"count": 3},
        },
    ]


def test_audit_fast_path_stores_and_reads_back_like_sqlalchemy(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    entries = audit_entries()

    async def scenario() -> dict[str, list[dict[str, Any]]]:
        engine = await database(path)
        fast = AuditRepository(engine)
        assert isinstance(fast._writer, SqliteBulkWriter), "the fast path is for SQLite"
        await fast.append(entries)
        slow = AuditRepository(engine)
        slow._writer = AUDIT_BY_SQLALCHEMY
        await slow.append(entries)
        whole_second = entries[0]["at"]
        results = {
            "all": await fast.query(),
            "login_prefix": await fast.query(action="auth."),
            "exact": await fast.query(action="auth.login"),
            "denied": await fast.query(outcome="denied"),
            "actor_id": await fast.query(actor_id="u1"),
            "since": await fast.query(since=whole_second.astimezone(MINUS_3_30)),
            "until": await fast.query(until=whole_second),
            "window": await fast.query(
                since=datetime(2024, 5, 6, 7, 8, 10, 250, tzinfo=UTC),
                until=datetime(2024, 5, 6, 7, 8, 11, tzinfo=UTC),
            ),
            "before": await fast.query(before_id=3, limit=1),
            "target": await fast.query(target="日本語"),
        }
        await engine.dispose()
        return results

    results = run(scenario())
    columns = [name for name in AUDIT_COLUMNS if name != "id"]
    for index in range(len(entries)):
        by_fast = raw_row(path, "audit_log", "id", index + 1, columns)
        by_sqlalchemy = raw_row(path, "audit_log", "id", index + 1 + len(entries), columns)
        assert by_fast == by_sqlalchemy
    first, _ = stored(path, "audit_log", "id", 1, columns)
    assert first["at"] == "2024-05-06 07:08:09.000000"
    second, second_types = stored(path, "audit_log", "id", 2, columns)
    assert second["at"] == "2024-05-06 07:08:10.000250"
    assert (second["detail"], second_types["detail"]) == ("null", "text")

    everything = results["all"]
    assert [entry["id"] for entry in everything] == [6, 5, 4, 3, 2, 1]  # newest first
    for got in everything:
        expected = entries[(got["id"] - 1) % len(entries)]
        assert_same_instants({k: v for k, v in got.items() if k != "id"}, expected)
    assert everything[-1]["detail"] == entries[0]["detail"]
    assert everything[-2]["detail"] is None

    def ids(name: str) -> list[int]:
        return [entry["id"] for entry in results[name]]

    assert ids("login_prefix") == [4, 1]
    assert ids("exact") == [4, 1]
    assert ids("denied") == [5, 2]
    assert ids("actor_id") == [4, 1]
    assert ids("since") == [6, 5, 4, 3, 2, 1]  # `since` is inclusive, at a whole second too
    assert ids("until") == []  # `until` is exclusive
    assert ids("window") == [5, 2]
    assert ids("before") == [2]
    assert ids("target") == [6, 3]


# -- found while testing: where the fast path differed from SQLAlchemy ---------------------
def test_fast_path_refuses_a_naive_datetime_like_sqlalchemy(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    record = records()[2]
    record.created_at = datetime(2024, 5, 6, 7, 8, 9)  # naive

    async def scenario() -> None:
        engine = await database(path)
        try:
            slow = ExecutionRepository(engine)
            slow._sqlite = False
            with pytest.raises(Exception, match="naive datetime"):
                await slow.upsert_many([record])
            with pytest.raises(ValueError, match="naive datetime"):
                await ExecutionRepository(engine).upsert_many([record])
        finally:
            await engine.dispose()

    run(scenario())


def test_sqlite_rows_with_a_single_column() -> None:
    table = Table(
        "single", MetaData(), Column("id", Integer, primary_key=True), Column("name", String)
    )
    assert SqliteRows(table, ["name"]).params({"name": "abc"}) == ("abc",)
