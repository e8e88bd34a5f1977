"""The repository that persists execution records (the model is `nanobrain.core.execution`)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, cast

import orjson
from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core.clock import utcnow
from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.crypto.keyring import KeyRing
from nanobrain.store.bulk import bulk_writer
from nanobrain.store.models import UNFINISHED, ExecutionRow
from nanobrain.store.sealed import open_json, open_text, seal_json, seal_text


def record_to_row(record: ExecutionRecord) -> dict[str, Any]:
    return dict(zip(_COLUMNS, _ATTRIBUTES(record), strict=True))


def record_from_row(row: ExecutionRow) -> ExecutionRecord:
    values = {name: getattr(row, name) for name in _COLUMNS}
    values["status"] = ExecutionStatus(values["status"])
    values["artifacts"] = values["artifacts"] or []
    return ExecutionRecord(**values)


_COLUMNS = tuple(column.name for column in ExecutionRow.__table__.columns)
_ATTRIBUTES = attrgetter(*_COLUMNS)


# Built once: only their parameters change (no per-call statement building and cache keys).
_TABLE = cast(Table, ExecutionRow.__table__)
_CLAIM = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("_id"), _TABLE.c.status == ExecutionStatus.QUEUED.value)
    .values(
        status=ExecutionStatus.RUNNING.value,
        started_at=bindparam("started_at"),
        attempts=_TABLE.c.attempts + 1,
    )
    .returning(*_TABLE.columns)
)
_COMPARE_AND_SET = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("_id"),
        _TABLE.c.status == bindparam("_status"),
        _TABLE.c.attempts == bindparam("_attempts"),
    )
    .values({name: bindparam(name) for name in _COLUMNS if name != "id"})
)


def _fence(table: Table, proposed: Any) -> ColumnElement[bool]:
    """Progress goes only onto a row still `running` in the same attempt."""
    return and_(
        table.c.status == ExecutionStatus.RUNNING.value,
        proposed.status == ExecutionStatus.RUNNING.value,
        table.c.attempts == proposed.attempts,
    )


def encode_cursor(record: ExecutionRecord) -> str:
    raw = orjson.dumps([record.created_at.isoformat(), record.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raise ValueError on anything that is not a cursor this server made (a forged one must
    not reach the database: a naive or out-of-range time, an id that is not one)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, execution_id = orjson.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None or not _CURSOR_ID.fullmatch(execution_id):
            raise ValueError("invalid cursor")
        return moment.astimezone(UTC), execution_id
    except Exception as exc:
        raise ValueError("invalid cursor") from exc


SEALED_JSON = ("input", "output", "error")  # what a run was given and gave: user data
SEALED_TEXT = ("progress_message",)


class ExecutionRepository:
    """Execution rows; with a key ring, the columns holding user data are encrypted at rest
    (chat turns, for one, carry the messages in `input` and `output`)."""

    def __init__(self, engine: AsyncEngine, ring: KeyRing | None = None):
        self._engine = engine
        self._writer = bulk_writer(engine, _TABLE, _COLUMNS, upsert_key="id")
        self._fenced = bulk_writer(engine, _TABLE, _COLUMNS, upsert_key="id", only_if=_fence)
        self._ring = ring if ring is not None and ring.enabled else None

    def _seal(self, row: dict[str, Any]) -> dict[str, Any]:
        ring = self._ring
        if ring is None:
            return row
        row = dict(row)
        for name in SEALED_JSON:
            row[name] = seal_json(ring, row[name], f"executions.{name}", row["id"])
        for name in SEALED_TEXT:
            if row[name] is not None:
                row[name] = seal_text(ring, row[name], f"executions.{name}", row["id"])
        return row

    def _open(self, row: Any) -> ExecutionRecord:
        record = record_from_row(row)
        ring = self._ring
        if ring is None:
            return record
        for name in SEALED_JSON:
            value = open_json(ring, getattr(record, name), f"executions.{name}", record.id)
            setattr(record, name, value)
        if record.progress_message is not None:
            record.progress_message = open_text(
                ring, record.progress_message, "executions.progress_message", record.id
            )
        return record

    async def upsert_many(self, records: list[ExecutionRecord], *, fenced: bool = False) -> None:
        """Insert or update the records' rows. `fenced`: only progress of a running execution,
        onto a row still `running` in the same attempt, so a worker that lost an execution
        (presumed dead, then redelivered or failed elsewhere) cannot overwrite what happened
        since; outcomes are written with `compare_and_set`."""
        if not records:
            return
        writer = self._fenced if fenced else self._writer
        async with self._engine.begin() as connection:
            if self._ring is None:
                # The hot write: rows made from the records' attributes, with no mapping between.
                await writer.write_values(connection, [_ATTRIBUTES(record) for record in records])
            else:
                rows = [self._seal(record_to_row(record)) for record in records]
                await writer.write(connection, rows)

    async def claim(self, execution_id: str) -> ExecutionRecord | None:
        """Move a queued execution to running (one attempt more) in one statement; None if it is
        not queued (cancelled, or taken by another worker)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(_CLAIM, {"_id": execution_id, "started_at": utcnow()})
            row = result.first()
        return self._open(row) if row is not None else None

    async def compare_and_set(
        self, record: ExecutionRecord, status: ExecutionStatus, attempts: int
    ) -> bool:
        """Write `record` if its row is still in `status` at `attempts`; False if another process
        changed it first. The one arbiter between replicas, workers and the reaper."""
        values = self._seal(record_to_row(record))
        values.update(_id=values.pop("id"), _status=status.value, _attempts=attempts)
        async with self._engine.begin() as connection:
            result = await connection.execute(_COMPARE_AND_SET, values)
        return bool(result.rowcount)

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                select(ExecutionRow).where(ExecutionRow.id == execution_id)
            )
            row = result.first()
        return self._open(row) if row is not None else None

    async def never_started(self, before: datetime, limit: int = 500) -> list[str]:
        """The ids of executions still `queued` in their first attempt that were created before
        `before`, oldest first (distributed mode: the candidates for a job never pushed)."""
        statement = (
            select(ExecutionRow.id)
            .where(
                UNFINISHED,  # literal, as the partial index's own condition: so it is used
                ExecutionRow.status == ExecutionStatus.QUEUED.value,
                ExecutionRow.attempts == 0,
                ExecutionRow.created_at < before,
            )
            .order_by(ExecutionRow.created_at)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            return [str(row) for row in (await connection.scalars(statement)).all()]

    async def list(
        self,
        *,
        owner_id: str | None,
        workflow: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first, after the `(created_at, id)` of a previous page's last record;
        `owner_id=None` lists everyone's (for readers with `write`)."""
        query = select(ExecutionRow)
        if owner_id is not None:
            query = query.where(ExecutionRow.owner_id == owner_id)
        if workflow is not None:
            query = query.where(ExecutionRow.workflow == workflow)
        if status is not None:
            query = query.where(ExecutionRow.status == status.value)
        if after is not None:
            created, last_id = after
            query = query.where(
                or_(
                    ExecutionRow.created_at < created,
                    and_(ExecutionRow.created_at == created, ExecutionRow.id < last_id),
                )
            )
        query = query.order_by(ExecutionRow.created_at.desc(), ExecutionRow.id.desc()).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [self._open(row) for row in rows]

    async def fail_unfinished(self, reason: str) -> int:
        """Mark executions left queued or running by a dead process as failed; return how many."""
        statement = (
            update(ExecutionRow)
            .where(UNFINISHED)  # literal, as the partial index's own condition: so it is used
            .values(
                status=ExecutionStatus.FAILED.value,
                error={"type": "interrupted", "message": reason},
                finished_at=utcnow(),
                last_seq=ExecutionRow.last_seq + 2,
            )
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount or 0)
