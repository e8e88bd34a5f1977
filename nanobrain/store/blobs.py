"""Where file contents live. `LocalBlobStore` is a directory (shared between replicas if mounted
so); object storage implements the same `BlobStore` protocol."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class BlobTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"file exceeds the {limit}-byte limit")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: str
    size: int
    sha256: str
    head: bytes  # the first bytes, for content sniffing


class BlobStore(Protocol):
    async def write(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob: ...

    async def write_bytes(self, data: bytes) -> StoredBlob: ...

    def local_path(self, key: str) -> Path: ...

    async def delete(self, key: str) -> None: ...


class LocalBlobStore:
    """Content in `root/<key>`; keys are server-made ids, never client file names."""

    HEAD_BYTES = 8192

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def local_path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("invalid blob key")
        return self.root / key

    async def write(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
        """Stream chunks to disk, hashing as it goes; abort past `max_bytes` (nothing is kept)."""
        key = os.urandom(16).hex()
        path = self.local_path(key)
        partial = path.with_suffix(".partial")
        digest = hashlib.sha256()
        size = 0
        head = b""
        handle = await asyncio.to_thread(open, partial, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                if len(head) < self.HEAD_BYTES:
                    head += chunk[: self.HEAD_BYTES - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return StoredBlob(key=key, size=size, sha256=digest.hexdigest(), head=head)

    async def write_bytes(self, data: bytes) -> StoredBlob:
        async def single() -> AsyncIterator[bytes]:
            yield data

        return await self.write(single(), max_bytes=len(data))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.local_path(key).unlink, True)
