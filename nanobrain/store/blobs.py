"""Where file contents live. `LocalBlobStore` is a directory (shared between replicas if mounted
so); `EncryptedBlobStore` encrypts around it; object storage implements the same `BlobStore`
protocol."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nanobrain.store.private import create_private, private_directory

READ_BYTES = 1 << 20


class BlobTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"file exceeds the {limit}-byte limit")
        self.limit = limit


class BlobUnreadable(Exception):
    """Stored content that cannot be read back as it was written: missing, damaged, tampered
    with, or encrypted with a key that is not configured (`reason` says which; no secrets)."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"blob {key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


class BlobStore(Protocol):
    async def write(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
        """Store new content under a new key; size and sha256 are those of the given bytes."""
        ...

    async def write_bytes(self, data: bytes) -> StoredBlob: ...

    def plaintext_path(self, key: str) -> Path | None:
        """The stored file itself when it holds the content as written (to be served and read
        in place), None when the store keeps it otherwise (encrypted): then use `read`."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The content as written; raises `BlobUnreadable` where it cannot be."""
        ...

    async def delete(self, key: str) -> None: ...


def new_key() -> str:
    return os.urandom(16).hex()


async def single(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Measured:
    """Passes chunks through, counting and hashing them; past `max_bytes` it raises
    `BlobTooLarge` (and the store keeps nothing)."""

    def __init__(self, chunks: AsyncIterator[bytes], max_bytes: int):
        self._chunks = chunks
        self._max_bytes = max_bytes
        self._digest = hashlib.sha256()
        self._size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._size += len(chunk)
            if self._size > self._max_bytes:
                raise BlobTooLarge(self._max_bytes)
            self._digest.update(chunk)
            yield chunk

    def blob(self, key: str) -> StoredBlob:
        return StoredBlob(key=key, size=self._size, sha256=self._digest.hexdigest())


class LocalBlobStore:
    """Content in `root/<key>`; keys are server-made ids, never client file names."""

    def __init__(self, root: Path):
        self.root = private_directory(root)

    def path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("invalid blob key")
        return self.root / key

    def plaintext_path(self, key: str) -> Path:
        return self.path(key)

    def keys(self) -> Iterator[str]:
        """The keys of stored content (not partial writes nor other files kept beside them)."""
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.isalnum() and entry.is_file(follow_symlinks=False):
                    yield entry.name

    async def write(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
        """Stream chunks to disk, hashing as it goes; abort past `max_bytes` (nothing is kept)."""
        key = new_key()
        measured = Measured(chunks, max_bytes)
        await self.put(key, aiter(measured))
        return measured.blob(key)

    async def write_bytes(self, data: bytes) -> StoredBlob:
        return await self.write(single(data), max_bytes=len(data))

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        """Write `chunks` as the content of `key`, new or replaced, atomically: readers see the
        old content or the new, never a part. If `chunks` raises, nothing changes."""
        path = self.path(key)
        partial = path.with_name(f"{key}.{new_key()}.partial")
        handle = await asyncio.to_thread(lambda: os.fdopen(create_private(partial), "wb"))
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, self.path(key), "rb")
        except FileNotFoundError:
            raise BlobUnreadable(key, "its stored content is missing") from None
        try:
            while chunk := await asyncio.to_thread(handle.read, READ_BYTES):
                yield chunk
        finally:
            handle.close()

    async def head(self, key: str, size: int) -> bytes:
        """The first `size` stored bytes (fewer if the content is shorter)."""

        def first() -> bytes:
            with open(self.path(key), "rb") as handle:
                return handle.read(size)

        try:
            return await asyncio.to_thread(first)
        except FileNotFoundError:
            raise BlobUnreadable(key, "its stored content is missing") from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, True)
