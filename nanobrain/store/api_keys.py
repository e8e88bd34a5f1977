"""API keys, stored as SHA-256 digests with a displayable prefix; the key itself is shown once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core.clock import utcnow
from nanobrain.core.ids import new_id
from nanobrain.store.models import ApiKeyRow, UserRow


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    owner_id: str
    name: str
    prefix: str
    key_hash: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "role": self.role,
            "owner_id": self.owner_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked": self.revoked_at is not None,
        }


_FIELDS = tuple(column.name for column in ApiKeyRow.__table__.columns)


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(**{name: getattr(row, name) for name in _FIELDS})


class ApiKeyRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def add(
        self,
        owner_id: str,
        name: str,
        prefix: str,
        key_hash: str,
        role: str,
        expires_at: datetime | None,
        *,
        max_active: int | None = None,
    ) -> ApiKeyRecord | None:
        """A new key; None when its owner already has `max_active` active (neither revoked nor
        expired) keys. The count and the insert are one statement (and the owner's row is
        locked on PostgreSQL), so keys created at once cannot pass the cap."""
        values: dict[str, Any] = {
            "id": new_id(),
            "owner_id": owner_id,
            "name": name,
            "prefix": prefix,
            "key_hash": key_hash,
            "role": role,
            "created_at": utcnow(),
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        if max_active is None:
            async with self._engine.begin() as connection:
                await connection.execute(insert(ApiKeyRow).values(**values))
            return ApiKeyRecord(**values)
        columns = list(ApiKeyRow.__table__.columns)
        active = (
            select(func.count())
            .select_from(ApiKeyRow)
            .where(
                ApiKeyRow.owner_id == owner_id,
                ApiKeyRow.revoked_at.is_(None),
                or_(ApiKeyRow.expires_at.is_(None), ApiKeyRow.expires_at > values["created_at"]),
            )
            .scalar_subquery()
        )
        row = select(*[literal(values[column.name], column.type) for column in columns])
        statement = insert(ApiKeyRow).from_select(columns, row.where(active < max_active))
        async with self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    select(UserRow.id).where(UserRow.id == owner_id).with_for_update()
                )
            result = await connection.execute(statement)
        return ApiKeyRecord(**values) if result.rowcount else None

    async def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return await self._one(ApiKeyRow.key_hash == key_hash)

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        return await self._one(ApiKeyRow.id == key_id)

    async def _one(self, condition: Any) -> ApiKeyRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(ApiKeyRow).where(condition))).first()
        return _record(row) if row is not None else None

    async def list(self, owner_id: str | None) -> list[ApiKeyRecord]:
        """The owner's keys, or everyone's with `owner_id=None`; newest first."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id)
        if owner_id is not None:
            query = query.where(ApiKeyRow.owner_id == owner_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_record(row) for row in rows]

    async def revoke(self, key_id: str) -> None:
        statement = (
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def revoke_owner(self, owner_id: str) -> None:
        statement = (
            update(ApiKeyRow)
            .where(ApiKeyRow.owner_id == owner_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def touch(self, last_used: dict[str, datetime]) -> None:
        """Record last-used times, batched (the hot path only notes them in memory)."""
        if not last_used:
            return
        async with self._engine.begin() as connection:
            for key_id, at in last_used.items():
                await connection.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=at)
                )
