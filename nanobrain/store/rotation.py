"""Key rotation: re-encrypt stored data under the first configured key, so that older keys can be
removed. Each kind of encrypted data has a `Rotation`; `rotate` (`nanobrain keys rotate`) runs them
all and keeps the key manifest: the older keys are dropped from it only once every rotation (files
and chat) finished without a failure.

A rotation is idempotent (what is already under the first key is skipped) and resumable (each item
is rewritten on its own, atomically), so an interrupted run is simply run again. Another kind of
encrypted data joins by adding its `Rotation` to `rotations`; for columns written with
`KeyRing.encrypt_text`, a `ColumnRotation` (as the chat tables have) walks the rows by id, skips
values where `ring.is_current(value)`, and writes back
`ring.encrypt_text(ring.decrypt_text(value, context=c), context=c)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Table, Update, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.crypto.keyring import DecryptionError, KeyRing
from nanobrain.store.blobs import BlobUnreadable, LocalBlobStore
from nanobrain.store.encrypted_blobs import EncryptedBlobStore
from nanobrain.store.executions import SEALED_JSON, SEALED_TEXT
from nanobrain.store.files import FileRepository
from nanobrain.store.key_manifest import record_key_ids, recorded_key_ids
from nanobrain.store.models import ChatMessageRow, ChatSessionRow, ExecutionRow
from nanobrain.store.sealed import is_sealed, open_json, open_text, seal_json, seal_text

ATTEMPTS = 5  # re-reads of a row that changed while it was being re-encrypted


@dataclass
class RotationReport:
    what: str
    rewritten: int = 0
    current: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # item id -> reason


class Rotation(Protocol):
    what: str

    async def run(self) -> RotationReport: ...


class FileRotation:
    """Every stored file (as the database lists them) under the primary key; files stored before
    encryption was enabled get encrypted."""

    what = "files"

    def __init__(self, files: FileRepository, store: EncryptedBlobStore, page_size: int = 200):
        self.files = files
        self.store = store
        self.page_size = page_size

    async def run(self) -> RotationReport:
        report = RotationReport(self.what)
        after = ""
        while page := await self.files.page(after, self.page_size):
            for record in page:
                try:
                    rewritten = await self.store.rewrap(record.id, record.sha256)
                except BlobUnreadable as exc:
                    report.failed[record.id] = exc.reason
                    continue
                if rewritten:
                    report.rewritten += 1
                else:
                    report.current += 1
            after = page[-1].id
        return report


class ColumnRotation:
    """The encrypted columns of one table under the primary key, page by page in id order (a page
    is rewritten in one transaction); values written before encryption was enabled get encrypted.
    `texts` are text columns, `jsons` JSON columns, as `seal_text` / `seal_json` wrote them (bound
    to `<table>.<column>:<id>`). A row is rewritten only while `guard` still holds what was read,
    so a concurrent change is never overwritten: that row is read and re-encrypted again."""

    def __init__(
        self,
        what: str,
        engine: AsyncEngine,
        ring: KeyRing,
        table: Any,
        texts: Sequence[str],
        jsons: Sequence[str],
        guard: str,
        page_size: int = 200,
    ):
        self.what = what
        self.engine = engine
        self.ring = ring
        self.table: Table = table
        self.texts, self.jsons = list(texts), list(jsons)
        self.guard = guard
        names = dict.fromkeys(["id", *texts, *jsons, guard])
        self.columns = [self.table.c[name] for name in names]
        self.page_size = page_size

    async def run(self) -> RotationReport:
        report = RotationReport(self.what)
        after = ""
        while rows := await self._rows(self.table.c.id > after, self.page_size):
            pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
            for row in rows:
                if (values := self._rewrapped(row, report)) is not None:
                    pending.append((row, values))
            missed: list[str] = []
            async with self.engine.begin() as connection:
                for row, values in pending:
                    if (await connection.execute(self._update(row, values))).rowcount:
                        report.rewritten += 1
                    else:
                        missed.append(row["id"])
            for row_id in missed:
                await self._retry(row_id, report)
            after = rows[-1]["id"]
        return report

    async def _rows(self, where: Any, limit: int) -> list[dict[str, Any]]:
        query = select(*self.columns).where(where).order_by(self.table.c.id).limit(limit)
        async with self.engine.connect() as connection:
            return [dict(row) for row in (await connection.execute(query)).mappings()]

    def _update(self, row: dict[str, Any], values: dict[str, Any]) -> Update:
        table = self.table
        return (
            update(table)
            .where(table.c.id == row["id"], table.c[self.guard] == row[self.guard])
            .values(**values)
        )

    async def _retry(self, row_id: str, report: RotationReport) -> None:
        """Re-encrypt one row that changed (or went) since it was read."""
        for _ in range(ATTEMPTS):
            found = await self._rows(self.table.c.id == row_id, 1)
            if not found:
                return  # deleted meanwhile: nothing left to re-encrypt
            values = self._rewrapped(found[0], report)
            if values is None:
                return
            async with self.engine.begin() as connection:
                if (await connection.execute(self._update(found[0], values))).rowcount:
                    report.rewritten += 1
                    return
        report.failed[row_id] = "it kept changing while being re-encrypted; run again"

    def _rewrapped(self, row: dict[str, Any], report: RotationReport) -> dict[str, Any] | None:
        """The columns of `row` that are not under the primary key, re-encrypted under it; None
        when there are none (counted as current) or they do not decrypt (counted as failed)."""
        ring, row_id = self.ring, row["id"]
        values: dict[str, Any] = {}
        try:
            for name in self.texts:
                column = f"{self.table.name}.{name}"
                if row[name] is not None and not ring.is_current(row[name]):
                    text = open_text(ring, row[name], column, row_id)
                    values[name] = seal_text(ring, text, column, row_id)
            for name in self.jsons:
                column, value = f"{self.table.name}.{name}", row[name]
                if value is not None and not (is_sealed(value) and ring.is_current(value)):
                    data = open_json(ring, value, column, row_id)
                    values[name] = seal_json(ring, data, column, row_id)
        except DecryptionError as exc:
            report.failed[row_id] = str(exc)
            return None
        if not values:
            report.current += 1
            return None
        return values


class ChatMessageRotation(ColumnRotation):
    """What chat messages say (`content`, `tool`). Messages never change once written; one
    deleted meanwhile is simply gone."""

    def __init__(self, engine: AsyncEngine, ring: KeyRing, page_size: int = 200):
        super().__init__(
            "chat messages",
            engine,
            ring,
            ChatMessageRow.__table__,
            texts=["content"],
            jsons=["tool"],
            guard="content",
            page_size=page_size,
        )


class ChatSessionRotation(ColumnRotation):
    """Chat sessions' `title` and `state`; each turn rewrites `state` (and `updated_at`, the
    guard), so a session that took a turn meanwhile is read again."""

    def __init__(self, engine: AsyncEngine, ring: KeyRing, page_size: int = 200):
        super().__init__(
            "chat sessions",
            engine,
            ring,
            ChatSessionRow.__table__,
            texts=["title"],
            jsons=["state"],
            guard="updated_at",
            page_size=page_size,
        )


class ExecutionRotation(ColumnRotation):
    """What executions were given and gave (`input`, `output`, `error`, `progress_message`);
    a running one changes `last_seq` with every event, so it is read again."""

    def __init__(self, engine: AsyncEngine, ring: KeyRing, page_size: int = 200):
        super().__init__(
            "executions",
            engine,
            ring,
            ExecutionRow.__table__,
            texts=list(SEALED_TEXT),
            jsons=list(SEALED_JSON),
            guard="last_seq",
            page_size=page_size,
        )


def rotations(engine: AsyncEngine, files_dir: Path, ring: KeyRing) -> list[Rotation]:
    return [
        FileRotation(FileRepository(engine), EncryptedBlobStore(LocalBlobStore(files_dir), ring)),
        ChatSessionRotation(engine, ring),
        ChatMessageRotation(engine, ring),
        ExecutionRotation(engine, ring),
    ]


async def rotate(engine: AsyncEngine, files_dir: Path, ring: KeyRing) -> list[RotationReport]:
    """Run every rotation, keeping the key manifest (beside the files, it covers all encrypted
    data) right: the primary key is noted before anything is put under it, and the older keys are
    forgotten (so servers accept configurations without them) only once nothing failed: files
    and chat alike."""
    local, primary = LocalBlobStore(files_dir), ring.primary_id
    recorded = recorded_key_ids(local)
    if recorded is None:
        if next(local.keys(), None) is None:  # with files, servers refuse until all are rotated
            record_key_ids(local, [primary])
    elif primary not in recorded:
        record_key_ids(local, [*recorded, primary])
    reports = [await rotation.run() for rotation in rotations(engine, files_dir, ring)]
    if not any(report.failed for report in reports):
        record_key_ids(local, [primary])
    return reports
