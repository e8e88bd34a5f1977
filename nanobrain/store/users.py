"""Users: one role each, an argon2id password hash or an OpenID Connect identity (or both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from nanobrain.core.clock import utcnow
from nanobrain.core.ids import new_id
from nanobrain.store.models import UserRow


class UsernameTaken(Exception):
    pass


class LastAdmin(Exception):
    """The change would leave no active admin."""


_ADMINS = UserRow.__table__.alias("admins")


def _keeps_an_admin(user_id: str) -> ColumnElement[bool]:
    """The row is not an active admin, or another active admin remains."""
    others = (
        select(func.count())
        .select_from(_ADMINS)
        .where(_ADMINS.c.role == "admin", _ADMINS.c.disabled.is_(False), _ADMINS.c.id != user_id)
        .scalar_subquery()
    )
    return or_(UserRow.role != "admin", UserRow.disabled.is_(True), others > 0)


async def _lock_admins(connection: AsyncConnection) -> None:
    """On PostgreSQL, hold the active admins' rows until the transaction ends, so two admins
    demoting each other at once are serialized and the second sees the first's change. (SQLite
    runs one write statement at a time, and `_keeps_an_admin` is evaluated inside it.)"""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            select(UserRow.id)
            .where(UserRow.role == "admin", UserRow.disabled.is_(False))
            .with_for_update()
        )


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
        """Change the given columns (role, password_hash, disabled, oidc_*); None if there is no
        such user. Demoting or disabling the last active admin raises `LastAdmin`, decided
        atomically: changes made at once never leave no admin."""
        demotes = values.get("role", "admin") != "admin" or values.get("disabled") is True
        statement = update(UserRow).where(UserRow.id == user_id)
        if demotes:
            statement = statement.where(_keeps_an_admin(user_id))
        try:
            async with self._engine.begin() as connection:
                if demotes:
                    await _lock_admins(connection)
                result = await connection.execute(statement.values(**values, updated_at=utcnow()))
        except IntegrityError as exc:
            raise UsernameTaken(str(values.get("username"))) from exc
        record = await self.get(user_id)
        if record is not None and not result.rowcount:
            raise LastAdmin(user_id)
        return record

    async def delete(self, user_id: str) -> bool:
        """False if there is no such user; `LastAdmin` for the last active admin."""
        statement = delete(UserRow).where(UserRow.id == user_id, _keeps_an_admin(user_id))
        async with self._engine.begin() as connection:
            await _lock_admins(connection)
            result = await connection.execute(statement)
        if not result.rowcount and await self.get(user_id) is not None:
            raise LastAdmin(user_id)
        return bool(result.rowcount)
