"""Metadata of stored files; contents live in a `BlobStore`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core.clock import utcnow
from nanobrain.store.models import FileRow


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    owner_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    execution_id: str | None
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "file_id": self.id,
            "filename": self.filename,
            "size": self.size,
            "content_type": self.content_type,
            "sha256": self.sha256,
            "created_at": self.created_at,
        }


class FileRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def add(
        self,
        *,
        file_id: str,
        owner_id: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        execution_id: str | None = None,
    ) -> FileRecord:
        record = FileRecord(
            id=file_id,
            owner_id=owner_id,
            filename=filename,
            content_type=content_type,
            size=size,
            sha256=sha256,
            execution_id=execution_id,
            created_at=utcnow(),
        )
        async with self._engine.begin() as connection:
            await connection.execute(insert(FileRow).values(**_row(record)))
        return record

    async def get(self, file_id: str) -> FileRecord | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(select(FileRow).where(FileRow.id == file_id))
            row = result.first()
        if row is None:
            return None
        return _record(row)

    async def page(self, after: str, limit: int) -> list[FileRecord]:
        """Up to `limit` files with ids greater than `after`, in id order (to walk all files)."""
        query = select(FileRow).where(FileRow.id > after).order_by(FileRow.id).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_record(row) for row in rows]


_FIELDS = tuple(column.name for column in FileRow.__table__.columns)


def _record(row: Any) -> FileRecord:
    return FileRecord(**{name: getattr(row, name) for name in _FIELDS})


def _row(record: FileRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _FIELDS}
