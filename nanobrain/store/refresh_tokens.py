"""Refresh tokens, stored as SHA-256 digests, grouped in families (one per login).

Each refresh marks its token used and issues the next one of the family; presenting a used token
again means it was stolen (or replayed), so the whole family is revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core.clock import utcnow
from nanobrain.core.ids import new_id
from nanobrain.store.models import RefreshTokenRow


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    id: str
    token_hash: str
    family_id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


_FIELDS = tuple(column.name for column in RefreshTokenRow.__table__.columns)


def _record(row: Any) -> RefreshTokenRecord:
    return RefreshTokenRecord(**{name: getattr(row, name) for name in _FIELDS})


class RefreshTokenRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def add(
        self, token_hash: str, family_id: str, user_id: str, expires_at: datetime
    ) -> None:
        values = {
            "id": new_id(),
            "token_hash": token_hash,
            "family_id": family_id,
            "user_id": user_id,
            "created_at": utcnow(),
            "expires_at": expires_at,
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(RefreshTokenRow).values(**values))

    async def get(self, token_hash: str) -> RefreshTokenRecord | None:
        query = select(RefreshTokenRow).where(RefreshTokenRow.token_hash == token_hash)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return _record(row) if row is not None else None

    async def mark_used(self, token_id: str) -> bool:
        """Atomically use a token once: False if it was already used or revoked (a race lost)."""
        statement = (
            update(RefreshTokenRow)
            .where(
                RefreshTokenRow.id == token_id,
                RefreshTokenRow.used_at.is_(None),
                RefreshTokenRow.revoked_at.is_(None),
            )
            .values(used_at=utcnow())
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)

    async def family_revoked(self, family_id: str) -> bool:
        """True once the login `family_id` was signed out or caught reusing a token."""
        query = (
            select(RefreshTokenRow.id)
            .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_not(None))
            .limit(1)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).first() is not None

    async def revoke_family(self, family_id: str) -> int:
        return await self._revoke(RefreshTokenRow.family_id == family_id)

    async def revoke_user(self, user_id: str) -> int:
        return await self._revoke(RefreshTokenRow.user_id == user_id)

    async def _revoke(self, condition: Any) -> int:
        statement = (
            update(RefreshTokenRow)
            .where(condition, RefreshTokenRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount or 0)
