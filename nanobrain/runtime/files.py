"""Uploaded and generated files: ownership, limits, and resolution of `File` inputs."""

from __future__ import annotations

import logging
import mimetypes
import re
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from nanobrain.core.types import File
from nanobrain.core.user import User
from nanobrain.runtime.errors import FileUnreadable, NotFound, TooLarge, UnsupportedMediaType
from nanobrain.runtime.scratch import Scratch
from nanobrain.security import sniff
from nanobrain.store.blobs import BlobStore, BlobTooLarge, BlobUnreadable, StoredBlob, single
from nanobrain.store.files import FileRecord, FileRepository

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


def safe_filename(name: str | None) -> str:
    """A display name only (never a path): last path segment, no control characters, bounded."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:200] or "upload"


def can_see_all(user: User) -> bool:
    return user.can("write") or user.can("admin")


class FileService:
    def __init__(
        self,
        repository: FileRepository,
        blobs: BlobStore,
        *,
        max_upload_bytes: int,
        allowed_types: list[str],
    ):
        self.repository = repository
        self.blobs = blobs
        self.max_upload_bytes = max_upload_bytes
        self.allowed_types = allowed_types

    def check_type(self, content_type: str) -> None:
        if self.allowed_types and not any(
            content_type == allowed
            or (allowed.endswith("/*") and content_type.startswith(allowed[:-1]))
            for allowed in self.allowed_types
        ):
            raise UnsupportedMediaType(
                f"files of type {content_type!r} are not accepted; allowed: {self.allowed_types}"
            )

    async def upload(
        self,
        owner: User,
        filename: str | None,
        declared_type: str | None,
        chunks: AsyncIterator[bytes],
        *,
        execution_id: str | None = None,
    ) -> FileRecord:
        name = safe_filename(filename)
        content_type = _content_type(declared_type, name)
        self.check_type(content_type)
        try:
            blob = await self.blobs.write(_sniffed(chunks, content_type), self.max_upload_bytes)
        except BlobTooLarge as exc:
            raise TooLarge(
                f"the file is larger than the {exc.limit}-byte upload limit", limit=exc.limit
            ) from exc
        return await self._record(owner, name, content_type, blob, execution_id)

    async def save_bytes(
        self, owner: User, filename: str, data: bytes, content_type: str | None, execution_id: str
    ) -> FileRecord:
        name = safe_filename(filename)
        blob = await self.blobs.write_bytes(data)
        return await self._record(
            owner, name, _content_type(content_type, name), blob, execution_id
        )

    async def _record(
        self, owner: User, name: str, content_type: str, blob: StoredBlob, execution_id: str | None
    ) -> FileRecord:
        return await self.repository.add(
            file_id=blob.key,
            owner_id=owner.id,
            filename=name,
            content_type=content_type,
            size=blob.size,
            sha256=blob.sha256,
            execution_id=execution_id,
        )

    async def get(self, file_id: str, viewer: User) -> FileRecord:
        """The file if `viewer` may see it; another user's file is as unknown as a missing one."""
        record = await self.repository.get(file_id) if file_id.isalnum() else None
        if record is None or (record.owner_id != viewer.id and not can_see_all(viewer)):
            raise NotFound(f"no file {file_id!r}")
        return record

    async def resolve(self, file: File, viewer: User, scratch: Scratch) -> File:
        record = await self.get(file.file_id, viewer)
        return as_file(record, await self._readable_path(record, scratch))

    async def _readable_path(self, record: FileRecord, scratch: Scratch) -> Path:
        """A plaintext file with the content: the stored file, or a copy decrypted into
        `scratch`."""
        path = self.blobs.plaintext_path(record.id)
        if path is not None:
            return path
        try:
            return await scratch.materialize(record.id, self.blobs.read(record.id))
        except BlobUnreadable as exc:
            raise _unreadable(record, exc) from None

    async def verified_content(self, record: FileRecord) -> AsyncIterator[bytes]:
        """The content as a stream, once all of it has been read and found intact: a damaged
        file is a `FileUnreadable` problem before anything is sent, not a cut-short download."""
        size = 0
        try:
            async for chunk in self.blobs.read(record.id):
                size += len(chunk)
        except BlobUnreadable as exc:
            raise _unreadable(record, exc) from None
        if size != record.size:
            raise _unreadable(record, BlobUnreadable(record.id, f"it holds {size} bytes"))
        return self._content(record)

    async def _content(self, record: FileRecord) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.blobs.read(record.id):
                yield chunk
        except BlobUnreadable as exc:  # changed since it was verified: the download is cut short
            raise _unreadable(record, exc) from None


def _unreadable(record: FileRecord, exc: BlobUnreadable) -> FileUnreadable:
    log.error("file %s (%s bytes) cannot be read: %s", record.id, record.size, exc.reason)
    return FileUnreadable(
        f"file {record.id!r} cannot be read: its stored content is missing, damaged, or "
        "encrypted with a key this server does not have; the reason is logged"
    )


def as_file(record: FileRecord, path: Path) -> File:
    return File(
        file_id=record.id,
        filename=record.filename,
        content_type=record.content_type,
        size=record.size,
        sha256=record.sha256,
        path=path,
    )


async def _sniffed(chunks: AsyncIterator[bytes], content_type: str) -> AsyncIterator[bytes]:
    """The chunks, once the first has shown the content can be `content_type` (else 415)."""
    first = True
    async for chunk in chunks:
        if first:
            first = False
            problem = sniff.mismatch(content_type, chunk[: sniff.SNIFF_BYTES])
            if problem is not None:
                raise UnsupportedMediaType(problem)
        yield chunk


def _content_type(declared: str | None, filename: str) -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


class ExecutionFiles:
    """`ctx.files` for one execution: reads the owner's files, saves artifacts of the run. Files
    of an encrypted store are decrypted for the run into a scratch directory: `close` removes it."""

    def __init__(self, service: FileService, user: User, execution_id: str):
        self._service = service
        self._user = user
        self._execution_id = execution_id
        self._scratch: Scratch | None = None  # made when a file needs a plaintext copy
        self.saved: list[dict[str, Any]] = []

    @property
    def scratch(self) -> Scratch:
        if self._scratch is None:
            self._scratch = Scratch()
        return self._scratch

    async def get(self, file_id: str) -> File:
        return await self.resolve(File(file_id=file_id))

    async def resolve(self, file: File) -> File:
        return await self._service.resolve(file, self._user, self.scratch)

    async def save(self, filename: str, data: bytes, content_type: str | None = None) -> File:
        record = await self._service.save_bytes(
            self._user, filename, data, content_type, self._execution_id
        )
        path = self._service.blobs.plaintext_path(record.id)
        if path is None:
            path = await self.scratch.materialize(record.id, single(data))
        file = as_file(record, path)
        self.saved.append(file.model_dump(mode="json"))
        return file

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.remove()
