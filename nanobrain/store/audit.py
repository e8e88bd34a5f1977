"""The audit log's table access: append and query, nothing else (the table is append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.store.bulk import bulk_writer
from nanobrain.store.models import AuditRow

_FIELDS = tuple(column.name for column in AuditRow.__table__.columns)


class AuditRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._writer = bulk_writer(
            engine, cast(Table, AuditRow.__table__), [name for name in _FIELDS if name != "id"]
        )

    async def append(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            async with self._engine.begin() as connection:
                await self._writer.write(connection, entries)

    async def query(
        self,
        *,
        actor_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Newest first; `before_id` pages backwards. `action` ending in `.` matches a prefix."""
        query = select(AuditRow)
        if actor_id is not None:
            query = query.where(AuditRow.actor_id == actor_id)
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if action is not None:
            if action.endswith("."):
                query = query.where(AuditRow.action.startswith(action, autoescape=True))
            else:
                query = query.where(AuditRow.action == action)
        if target is not None:
            query = query.where(AuditRow.target == target)
        if outcome is not None:
            query = query.where(AuditRow.outcome == outcome)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        query = query.order_by(AuditRow.id.desc()).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [{name: getattr(row, name) for name in _FIELDS} for row in rows]
