"""Encryption at rest for stored files: a `BlobStore` that keeps content encrypted in a
`LocalBlobStore` (the format is `nanobrain.crypto.stream_cipher`), and the choice of store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

from nanobrain.crypto import stream_cipher
from nanobrain.crypto.keyring import DecryptionError, KeyRing
from nanobrain.store.blobs import (
    BlobStore,
    BlobUnreadable,
    LocalBlobStore,
    Measured,
    StoredBlob,
    new_key,
    single,
)
from nanobrain.store.key_manifest import check_and_record


def open_blob_store(root: Path, ring: KeyRing) -> BlobStore:
    """The store for files under `root`: encrypted when the ring has keys. Raises
    `StorageKeyError` when the ring cannot serve the files already stored there."""
    local = LocalBlobStore(root)
    check_and_record(local, ring)
    return EncryptedBlobStore(local, ring) if ring.enabled else local


class EncryptedBlobStore:
    """Content encrypted under the ring's primary key. Size and sha256 are the plaintext's; the
    blob's key is bound into the encryption, so one blob's bytes cannot pass for another's."""

    def __init__(self, local: LocalBlobStore, ring: KeyRing):
        self.local = local
        self.ring = ring

    async def write(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
        key = new_key()
        measured = Measured(chunks, max_bytes)
        await self.local.put(key, stream_cipher.encrypt(aiter(measured), self.ring, key.encode()))
        return measured.blob(key)

    async def write_bytes(self, data: bytes) -> StoredBlob:
        return await self.write(single(data), max_bytes=len(data))

    def plaintext_path(self, key: str) -> None:
        return None

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            async for chunk in stream_cipher.decrypt(self.local.read(key), self.ring, key.encode()):
                yield chunk
        except DecryptionError as exc:
            raise BlobUnreadable(key, str(exc)) from None

    async def delete(self, key: str) -> None:
        await self.local.delete(key)

    async def rewrap(self, key: str, sha256: str) -> bool:
        """Re-encrypt `key` under the primary key unless it already is (False); content stored
        before encryption was enabled is encrypted. The content must hash to `sha256`, the digest
        recorded when it was written, or nothing changes (`BlobUnreadable`)."""
        head = await self.local.head(key, stream_cipher.HEADER_BYTES)
        if stream_cipher.is_encrypted(head):
            try:
                if stream_cipher.parse_header(head).key_id == self.ring.primary_id:
                    return False
            except DecryptionError as exc:
                raise BlobUnreadable(key, str(exc)) from None
            plaintext = self.read(key)
        else:
            plaintext = self.local.read(key)
        checked = _matching(plaintext, key, sha256)
        await self.local.put(key, stream_cipher.encrypt(checked, self.ring, key.encode()))
        return True


async def _matching(chunks: AsyncIterator[bytes], key: str, sha256: str) -> AsyncIterator[bytes]:
    """The chunks, then a failure in place of their end unless they hash to `sha256` (so a
    consumer such as `LocalBlobStore.put` keeps nothing)."""
    digest = hashlib.sha256()
    async for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != sha256:
        raise BlobUnreadable(key, "its content does not match the sha256 recorded for it")
