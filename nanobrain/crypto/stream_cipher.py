"""The encrypted file format: streaming, chunked AES-256-GCM, in memory bounded by one chunk.

    header  "NBEF" | version (1) | key id (8) | chunk size (4, big-endian) | salt (16) | prefix (7)
    chunks  AES-256-GCM(chunk of `chunk size` plaintext bytes, the last one shorter or empty) | tag

The file's key is derived from the master key (named by its id) and the salt. Chunk `i` is
sealed with the nonce `prefix | i (4 bytes) | last (1 byte: 1 for the final chunk, else 0)` and
the header plus the caller's context (the blob's id) as associated data. So a changed byte, a
changed header, chunks reordered or dropped, a file cut short at a chunk boundary or extended, and
one file's content put in place of another's all fail authentication (the STREAM construction, as
in Tink's streaming AEAD).
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nanobrain.crypto.keyring import SALT_BYTES, DecryptionError, KeyRing

MAGIC = b"NBEF"
VERSION = 1
CHUNK_SIZE = 64 * 1024
TAG_BYTES = 16
PREFIX_BYTES = 7
_HEADER = struct.Struct(f">4sB8sI{SALT_BYTES}s{PREFIX_BYTES}s")
HEADER_BYTES = _HEADER.size
_PURPOSE = b"nanobrain file v1"


@dataclass(frozen=True, slots=True)
class Header:
    key_id: bytes
    chunk_size: int
    salt: bytes
    prefix: bytes

    def pack(self) -> bytes:
        return _HEADER.pack(MAGIC, VERSION, self.key_id, self.chunk_size, self.salt, self.prefix)


def is_encrypted(head: bytes) -> bool:
    """Whether stored bytes starting with `head` are in this format (else: plaintext)."""
    return head.startswith(MAGIC)


def parse_header(head: bytes) -> Header:
    if len(head) < HEADER_BYTES or not is_encrypted(head):
        raise DecryptionError("it is not an encrypted file")
    _, version, kid, chunk_size, salt, prefix = _HEADER.unpack(head[:HEADER_BYTES])
    if version != VERSION:
        raise DecryptionError(f"it has an unknown format version {version}")
    if not 0 < chunk_size <= 1 << 24:
        raise DecryptionError("its header is damaged")
    return Header(key_id=kid, chunk_size=chunk_size, salt=salt, prefix=prefix)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _take(pending: bytearray, size: int) -> list[bytes]:
    """The whole `size`-byte pieces at the front of `pending`, removed from it, always keeping at
    least one byte back: only the end of the input tells which piece is the last."""
    count = (len(pending) - 1) // size
    if count <= 0:
        return []
    with memoryview(pending) as view:
        pieces = [view[i * size : (i + 1) * size].tobytes() for i in range(count)]
    del pending[: count * size]
    return pieces


async def encrypt(
    chunks: AsyncIterator[bytes], ring: KeyRing, context: bytes
) -> AsyncIterator[bytes]:
    """The encrypted form of the plaintext `chunks`, under the ring's primary key."""
    header = Header(
        key_id=ring.primary_id,
        chunk_size=CHUNK_SIZE,
        salt=os.urandom(SALT_BYTES),
        prefix=os.urandom(PREFIX_BYTES),
    )
    packed = header.pack()
    aad = packed + context
    cipher = ring.cipher(header.key_id, header.salt, _PURPOSE)
    yield packed
    pending = bytearray()
    index = 0
    async for chunk in chunks:
        pending += chunk
        for piece in _take(pending, CHUNK_SIZE):
            yield cipher.encrypt(_nonce(header.prefix, index, False), piece, aad)
            index += 1
    yield cipher.encrypt(_nonce(header.prefix, index, True), bytes(pending), aad)


async def decrypt(raw: AsyncIterator[bytes], ring: KeyRing, context: bytes) -> AsyncIterator[bytes]:
    """The plaintext of the encrypted bytes `raw`, chunk by chunk, each authenticated before it is
    given out. Raises `DecryptionError` (or `UnknownKey`) where the content stops being genuine."""
    stream = aiter(raw)
    start = b""
    async for data in stream:
        start += data
        if len(start) >= HEADER_BYTES:
            break
    header = parse_header(start)
    aad = start[:HEADER_BYTES] + context
    cipher = ring.cipher(header.key_id, header.salt, _PURPOSE)
    frame = header.chunk_size + TAG_BYTES
    pending = bytearray()
    index = 0
    async for data in _chain(start[HEADER_BYTES:], stream):
        pending += data
        for sealed in _take(pending, frame):
            yield _open(cipher, header.prefix, index, False, sealed, aad)
            index += 1
    if len(pending) < TAG_BYTES:
        raise DecryptionError("it is truncated")
    yield _open(cipher, header.prefix, index, True, bytes(pending), aad)


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for data in rest:
        yield data


def _open(
    cipher: AESGCM, prefix: bytes, index: int, last: bool, sealed: bytes, aad: bytes
) -> bytes:
    try:
        return cipher.decrypt(_nonce(prefix, index, last), sealed, aad)
    except InvalidTag:
        raise DecryptionError(
            f"chunk {index} failed its integrity check (the file was damaged, tampered with "
            "or truncated)"
        ) from None
