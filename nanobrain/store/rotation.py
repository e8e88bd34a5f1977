"""Key rotation: re-encrypt stored data under the first configured key, so that older keys can be
removed. Each kind of encrypted data has a `Rotation`; `nanobrain keys rotate` runs them all.

A rotation is idempotent (what is already under the first key is skipped) and resumable (each item
is rewritten on its own, atomically), so an interrupted run is simply run again. Another kind of
encrypted data joins by adding its `Rotation` to `rotations`; for a text column written with
`KeyRing.encrypt_text`: walk the rows, skip those where `ring.is_current(value)`, and write back
`ring.encrypt_text(ring.decrypt_text(value, context=c), context=c)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.security.keyring import KeyRing
from nanobrain.store.blobs import BlobUnreadable, LocalBlobStore
from nanobrain.store.encrypted_blobs import EncryptedBlobStore
from nanobrain.store.files import FileRepository
from nanobrain.store.key_manifest import record_key_ids, recorded_key_ids


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
    encryption was enabled get encrypted. Once no file failed, the key manifest names only the
    primary key, and servers accept configurations without the older keys."""

    what = "files"

    def __init__(self, files: FileRepository, store: EncryptedBlobStore, page_size: int = 200):
        self.files = files
        self.store = store
        self.page_size = page_size

    async def run(self) -> RotationReport:
        local, primary = self.store.local, self.store.ring.primary_id
        recorded = recorded_key_ids(local)
        if recorded is not None and primary not in recorded:
            record_key_ids(local, [*recorded, primary])  # before any file is under it
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
        if not report.failed:
            record_key_ids(local, [primary])
        return report


def rotations(engine: AsyncEngine, files_dir: Path, ring: KeyRing) -> list[Rotation]:
    return [
        FileRotation(FileRepository(engine), EncryptedBlobStore(LocalBlobStore(files_dir), ring))
    ]
