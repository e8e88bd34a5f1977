"""Bulk writes of whole rows, one writer per table and engine (`bulk_writer`): on SQLite straight
to the driver (`sqlite_rows`: the embedded store's hot tables, where SQLAlchemy's per-value bind
processing costs more than SQLite's own insert), elsewhere through SQLAlchemy."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from nanobrain.store.sqlite_rows import SqliteRows

Condition = Callable[[Table, Any], ColumnElement[bool]]
"""The condition an upsert updates an existing row on: of the table and the proposed row
(`excluded`)."""


class BulkWriter(ABC):
    """`INSERT` (or, with an upsert key, insert-or-update) of many rows of `columns`."""

    @abstractmethod
    async def write(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write rows given as mappings of column names."""

    @abstractmethod
    async def write_values(
        self, connection: AsyncConnection, rows: Sequence[Sequence[Any]]
    ) -> None:
        """Write rows given as their values in `columns` order."""


class SqliteBulkWriter(BulkWriter):
    def __init__(self, table: Table, columns: Sequence[str], upsert_key: str | None = None):
        self._rows = SqliteRows(table, columns, upsert_key=upsert_key)

    async def write(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        await self._rows.write(connection, rows)

    async def write_values(
        self, connection: AsyncConnection, rows: Sequence[Sequence[Any]]
    ) -> None:
        convert = self._rows.convert
        await self._rows.write_params(connection, [convert(values) for values in rows])


class SqlAlchemyBulkWriter(BulkWriter):
    def __init__(
        self,
        dialect: str,
        table: Table,
        columns: Sequence[str],
        upsert_key: str | None = None,
        only_if: Condition | None = None,
    ):
        self._columns = tuple(columns)
        if upsert_key is None:
            self._statement: Any = insert(table)
            return
        statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        self._statement = statement.on_conflict_do_update(
            index_elements=[table.c[upsert_key]],
            set_={name: statement.excluded[name] for name in columns if name != upsert_key},
            where=only_if(table, statement.excluded) if only_if is not None else None,
        )

    async def write(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        await connection.execute(self._statement, list(rows))

    async def write_values(
        self, connection: AsyncConnection, rows: Sequence[Sequence[Any]]
    ) -> None:
        columns = self._columns
        await self.write(connection, [dict(zip(columns, values, strict=True)) for values in rows])


def bulk_writer(
    engine: AsyncEngine,
    table: Table,
    columns: Sequence[str],
    *,
    upsert_key: str | None = None,
    only_if: Condition | None = None,
) -> BulkWriter:
    """The writer for `engine`'s database. `only_if`: update an existing row only when it holds
    (written through SQLAlchemy on every database)."""
    dialect = engine.dialect.name
    if dialect == "sqlite" and only_if is None:
        return SqliteBulkWriter(table, columns, upsert_key)
    return SqlAlchemyBulkWriter(dialect, table, columns, upsert_key, only_if)
