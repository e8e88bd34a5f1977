"""Bulk writes of whole rows straight to the SQLite driver, for the embedded store's hot tables.

Every execution writes an execution row and an audit row. Through SQLAlchemy each value of each
row passes its type's bind processor, which costs more than SQLite's own insert; here a row is
turned into driver values by a few precomputed conversions, stored exactly as SQLAlchemy stores
them (JSON text, `null` for None; UTC datetimes as `YYYY-MM-DD HH:MM:SS.ffffff`), so SQLAlchemy
reads them back unchanged.

One exception: SQLite gives a JSON column numeric affinity, so the text of a bare integer past 64
bits would be stored as a float; that one is stored as a BLOB, which SQLite keeps as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from nanobrain.core import jsoncodec
from nanobrain.store.models import UTCDateTime

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def sqlite_json(value: Any) -> str | bytes:
    """A JSON column's value for the driver: its text (`json_text`, inlined: this runs for every
    JSON column of every row), as bytes for a bare integer that SQLite's numeric affinity would
    turn into a float."""
    if value is None:
        return "null"
    try:
        text = orjson.dumps(value, option=jsoncodec.OPTIONS).decode()
    except orjson.JSONEncodeError:
        text = jsoncodec.dumps_text(value)
    if type(value) is int and not _INT64_MIN <= value <= _INT64_MAX:
        return text.encode()
    return text


def sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")  # as UTCDateTime refuses it
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # orjson writes `"YYYY-MM-DDTHH:MM:SS.ffffff+00:00"` several times faster than isoformat;
    # a datetime on a whole second has no fraction there, but always has one in SQLAlchemy's form.
    text = orjson.dumps(value).decode()
    if value.microsecond:
        return text[1:27].replace("T", " ")
    return text[1:20].replace("T", " ") + ".000000"


class SqliteRows:
    """`INSERT` (or, with `upsert_key`, insert-or-replace-the-values) of `table`'s `columns`."""

    def __init__(self, table: Table, columns: Sequence[str], upsert_key: str | None = None):
        quoted = [f'"{name}"' for name in columns]
        sql = (
            f'INSERT INTO "{table.name}" ({", ".join(quoted)}) '
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        if upsert_key is not None:
            updates = [f"{name} = excluded.{name}" for name in quoted if name != f'"{upsert_key}"']
            sql += f' ON CONFLICT ("{upsert_key}") DO UPDATE SET {", ".join(updates)}'
        self.sql = sql
        getter = itemgetter(*columns)  # one name: the bare value, not a 1-tuple
        self._values = getter if len(columns) > 1 else lambda row: (getter(row),)
        self._conversions: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(columns):
            column_type = table.c[name].type
            if isinstance(column_type, JSON):
                self._conversions.append((index, sqlite_json))
            elif isinstance(column_type, UTCDateTime):
                self._conversions.append((index, sqlite_datetime))

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return self.convert(self._values(row))

    def convert(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """The driver's values for one row's column values, in `columns` order."""
        converted = list(values)
        for index, convert in self._conversions:
            converted[index] = convert(converted[index])
        return tuple(converted)

    async def write(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.write_params(connection, [self.params(row) for row in rows])

    async def write_params(
        self, connection: AsyncConnection, params: Sequence[tuple[Any, ...]]
    ) -> None:
        await connection.exec_driver_sql(self.sql, params)
