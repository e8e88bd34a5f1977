"""Users: one role each, an argon2id password hash or an OpenID Connect identity (or both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.store.executions import new_id, utcnow
from nanobrain.store.models import UserRow


class UsernameTaken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str
    password_hash: str | None
    role: str
    disabled: bool
    oidc_provider: str | None
    oidc_subject: str | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "disabled": self.disabled,
            "oidc_provider": self.oidc_provider,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


_FIELDS = tuple(column.name for column in UserRow.__table__.columns)


def _record(row: Any) -> UserRecord:
    return UserRecord(**{name: getattr(row, name) for name in _FIELDS})


class UserRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def add(
        self,
        username: str,
        role: str,
        password_hash: str | None = None,
        oidc_provider: str | None = None,
        oidc_subject: str | None = None,
    ) -> UserRecord:
        now = utcnow()
        values = {
            "id": new_id(),
            "username": username,
            "password_hash": password_hash,
            "role": role,
            "disabled": False,
            "oidc_provider": oidc_provider,
            "oidc_subject": oidc_subject,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(UserRow).values(**values))
        except IntegrityError as exc:
            raise UsernameTaken(username) from exc
        return UserRecord(**values)  # type: ignore[arg-type]

    async def _one(self, *conditions: Any) -> UserRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(UserRow).where(*conditions))).first()
        return _record(row) if row is not None else None

    async def get(self, user_id: str) -> UserRecord | None:
        return await self._one(UserRow.id == user_id)

    async def by_username(self, username: str) -> UserRecord | None:
        return await self._one(UserRow.username == username)

    async def by_oidc_identity(self, provider: str, subject: str) -> UserRecord | None:
        return await self._one(UserRow.oidc_provider == provider, UserRow.oidc_subject == subject)

    async def list(self, limit: int, offset: int) -> list[UserRecord]:
        query = select(UserRow).order_by(UserRow.created_at, UserRow.id).limit(limit).offset(offset)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_record(row) for row in rows]

    async def count_admins(self) -> int:
        query = select(func.count()).where(UserRow.role == "admin", UserRow.disabled.is_(False))
        async with self._engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def update(self, user_id: str, **values: Any) -> UserRecord | None:
        """Change the given columns (role, password_hash, disabled, oidc_*)."""
        statement = update(UserRow).where(UserRow.id == user_id)
        try:
            async with self._engine.begin() as connection:
                await connection.execute(statement.values(**values, updated_at=utcnow()))
        except IntegrityError as exc:
            raise UsernameTaken(str(values.get("username"))) from exc
        return await self.get(user_id)

    async def delete(self, user_id: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(UserRow).where(UserRow.id == user_id))
        return bool(result.rowcount)
