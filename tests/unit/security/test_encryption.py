"""Encryption at rest, piece by piece: the file format, the key ring, configuration, scratch space
and the encrypted store's rotation. The end-to-end behaviour is in
tests/integration/security/test_encryption.py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from nanobrain.config import ConfigError, load_settings
from nanobrain.crypto import stream_cipher
from nanobrain.crypto.keyring import (
    TEXT_PREFIX,
    DecryptionError,
    KeyRing,
    UnknownKey,
    decode_key,
    generate_key,
    key_id,
)
from nanobrain.runtime import scratch
from nanobrain.store.blobs import BlobUnreadable, LocalBlobStore, single
from nanobrain.store.encrypted_blobs import EncryptedBlobStore, open_blob_store
from nanobrain.store.key_manifest import StorageKeyError, recorded_key_ids

KEY_A, KEY_B = os.urandom(32), os.urandom(32)
RING = KeyRing([KEY_A])
CHUNK = stream_cipher.CHUNK_SIZE
FRAME = CHUNK + stream_cipher.TAG_BYTES
HEADER = stream_cipher.HEADER_BYTES


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def gather(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def seal(data: bytes, ring: KeyRing = RING, context: bytes = b"blob") -> bytes:
    return asyncio.run(gather(stream_cipher.encrypt(pieces(data, 100_000), ring, context)))


def unseal(
    sealed: bytes, ring: KeyRing = RING, context: bytes = b"blob", size: int = 7_000
) -> bytes:
    return asyncio.run(gather(stream_cipher.decrypt(pieces(sealed, size), ring, context)))


# -- the file format ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5])
def test_any_size_round_trips_whatever_the_read_sizes(size: int) -> None:
    data = os.urandom(size)
    sealed = seal(data)
    chunks = -(-size // CHUNK) or 1  # an empty file still has its (empty) final chunk
    assert len(sealed) == HEADER + size + chunks * stream_cipher.TAG_BYTES
    for read_size in (1, 41, FRAME, FRAME + 1, 1 << 20):
        assert unseal(sealed, size=read_size) == data


def test_every_changed_byte_is_detected() -> None:
    sealed = seal(os.urandom(2 * CHUNK + 100))
    for position in [*range(HEADER + 1), *range(HEADER, len(sealed), 997), len(sealed) - 1]:
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            unseal(bytes(tampered))


def test_truncation_extension_and_reordering_are_detected() -> None:
    sealed = seal(os.urandom(3 * CHUNK))  # three full chunks: the last is a full one too
    frames = [sealed[HEADER + i * FRAME : HEADER + (i + 1) * FRAME] for i in range(3)]
    header = sealed[:HEADER]
    variants = {
        "cut at a chunk boundary": header + frames[0] + frames[1],
        "cut to the header": header,
        "cut inside a chunk": sealed[:-10],
        "cut inside the header": sealed[: HEADER - 1],
        "extended": sealed + frames[2],
        "reordered": header + frames[1] + frames[0] + frames[2],
        "empty": b"",
    }
    for what, variant in variants.items():
        with pytest.raises(DecryptionError):
            unseal(variant)
            pytest.fail(f"{what} was not detected")


def test_content_is_bound_to_its_blob_and_key() -> None:
    sealed = seal(b"payroll", context=b"a")
    with pytest.raises(DecryptionError, match="integrity"):
        unseal(sealed, context=b"b")  # one blob's bytes put in place of another's
    with pytest.raises(UnknownKey) as info:
        unseal(sealed, ring=KeyRing([KEY_B]))
    assert info.value.key_id == key_id(KEY_A)
    assert key_id(KEY_A).hex() in str(info.value)
    assert unseal(sealed, ring=KeyRing([KEY_B, KEY_A]), context=b"a") == b"payroll"


def test_the_header_names_format_and_key_and_nothing_repeats() -> None:
    first, second = seal(b"same"), seal(b"same")
    assert first.startswith(b"NBEF\x01" + key_id(KEY_A))
    assert first != second  # a fresh salt and nonce prefix per file
    assert stream_cipher.parse_header(first).chunk_size == CHUNK
    future = first[:4] + b"\x02" + first[5:]
    with pytest.raises(DecryptionError, match="version 2"):
        unseal(future)


# -- the key ring --------------------------------------------------------------------------------
def test_text_round_trips_and_legacy_plaintext_still_reads() -> None:
    ring = KeyRing([KEY_A])
    sealed = ring.encrypt_text("Grüße, 世界", context="chat_messages:m1")
    assert sealed.startswith(TEXT_PREFIX) and "Grüße" not in sealed
    assert sealed != ring.encrypt_text("Grüße, 世界", context="chat_messages:m1")
    assert ring.decrypt_text(sealed, context="chat_messages:m1") == "Grüße, 世界"
    assert ring.decrypt_text("written before encryption") == "written before encryption"
    assert ring.decrypt_text(ring.encrypt_text("")) == ""


def test_text_refuses_another_context_tampering_and_unknown_keys() -> None:
    ring = KeyRing([KEY_A])
    sealed = ring.encrypt_text("secret", context="row 1")
    with pytest.raises(DecryptionError):
        ring.decrypt_text(sealed, context="row 2")
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(DecryptionError):
        ring.decrypt_text(flipped, context="row 1")
    with pytest.raises(DecryptionError):
        ring.decrypt_text(TEXT_PREFIX + "short")
    with pytest.raises(UnknownKey):
        KeyRing([KEY_B]).decrypt_text(sealed, context="row 1")
    with pytest.raises(UnknownKey):
        KeyRing().decrypt_text(sealed, context="row 1")


def test_an_empty_ring_stores_text_as_it_is() -> None:
    ring = KeyRing()
    assert not ring.enabled
    assert ring.encrypt_text("hello") == "hello"
    assert not ring.is_current("hello")


def test_rotation_helpers_for_text() -> None:
    old, new = KeyRing([KEY_A]), KeyRing([KEY_B, KEY_A])
    sealed = old.encrypt_text("note", context="c")
    assert old.is_current(sealed) and not new.is_current(sealed)
    rotated = new.encrypt_text(new.decrypt_text(sealed, context="c"), context="c")
    assert new.is_current(rotated)
    assert KeyRing([KEY_B]).decrypt_text(rotated, context="c") == "note"
    assert not new.is_current("plaintext")


def test_keys_are_base64_of_32_bytes() -> None:
    generated = generate_key()
    assert len(base64.b64decode(generated)) == 32
    raw = os.urandom(32)
    for form in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        f"  {base64.b64encode(raw).decode()}\n",
    ):
        assert decode_key(form) == raw
    for bad in ("", "not base64!", base64.b64encode(os.urandom(16)).decode()):
        with pytest.raises(ValueError):
            decode_key(bad)


def test_configured_keys_are_checked_without_echoing_them() -> None:
    secret = base64.b64encode(os.urandom(24)).decode()  # the wrong length
    with pytest.raises(ValueError, match="entry 1") as info:
        KeyRing.from_secrets([SecretStr(generate_key()), SecretStr(secret)])
    assert secret not in str(info.value)
    same = generate_key()
    with pytest.raises(ValueError, match="entries 0 and 1 are the same key"):
        KeyRing.from_secrets([SecretStr(same), SecretStr(same)])


# -- configuration -------------------------------------------------------------------------------
def test_keys_from_the_environment_are_on_and_redacted() -> None:
    first, second = generate_key(), generate_key()
    settings = load_settings(environ={"NANOBRAIN_STORAGE__ENCRYPTION_KEYS": f"{first},{second}"})
    ring = KeyRing.from_secrets(settings.storage.encryption_keys)
    assert ring.ids == [key_id(decode_key(first)), key_id(decode_key(second))]
    redacted = settings.redacted()
    assert redacted["storage"]["encryption_keys"] == ["**********", "**********"]
    assert first not in repr(settings) and first not in str(redacted)


def test_keys_from_a_config_file_interpolate_secrets(tmp_path: Path) -> None:
    key = generate_key()
    config = tmp_path / "nanobrain.yaml"
    config.write_text('storage:\n  encryption_keys: ["${NANOBRAIN_ENCRYPTION_KEY}"]\n')
    settings = load_settings(config_file=config, environ={"NANOBRAIN_ENCRYPTION_KEY": key})
    assert [secret.get_secret_value() for secret in settings.storage.encryption_keys] == [key]
    with pytest.raises(ConfigError, match="NANOBRAIN_ENCRYPTION_KEY"):
        load_settings(config_file=config, environ={})


def test_encryption_is_off_by_default_and_bad_keys_stop_start_up() -> None:
    assert load_settings(environ={}).storage.encryption_keys == []
    assert (
        load_settings(profile="production", environ={"JWT_SECRET": "x"}).storage.encryption_keys
        == []
    )
    bad = "c2hvcnQ="
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"NANOBRAIN_STORAGE__ENCRYPTION_KEYS": bad})
    assert "storage.encryption_keys" in str(info.value) and "entry 0" in str(info.value)
    assert bad not in str(info.value)


# -- scratch space for workflows -----------------------------------------------------------------
def test_scratch_copies_are_private_reused_and_removed() -> None:
    space = scratch.Scratch()

    async def fill() -> tuple[Path, Path]:
        first = await space.materialize("abc", single(b"plain"))
        again = await space.materialize("abc", single(b"never read"))
        return first, again

    first, again = asyncio.run(fill())
    assert first == again and first.read_bytes() == b"plain"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    assert first.parent.name.startswith(f"{scratch.PREFIX}{os.getpid()}-")
    space.remove()
    assert not first.parent.exists()


def test_sweep_removes_what_stopped_processes_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    left = tmp_path / f"{scratch.PREFIX}{int(dead.stdout)}-x"
    left.mkdir()
    (left / "file").write_bytes(b"plaintext")
    mine = tmp_path / f"{scratch.PREFIX}{os.getpid()}-y"
    mine.mkdir()
    other = tmp_path / "unrelated"
    other.mkdir()
    assert scratch.sweep() == 1
    assert not left.exists() and mine.exists() and other.exists()


# -- the encrypted store ---------------------------------------------------------------------------
def test_rewrap_moves_content_to_the_primary_key_once(tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path)
    old = EncryptedBlobStore(local, KeyRing([KEY_A]))
    new = EncryptedBlobStore(local, KeyRing([KEY_B, KEY_A]))
    data = os.urandom(CHUNK * 2 + 3)
    digest = hashlib.sha256(data).hexdigest()

    async def scenario() -> None:
        blob = await old.write(pieces(data, 10_000), max_bytes=len(data))
        assert (blob.size, blob.sha256) == (len(data), digest)
        assert await new.rewrap(blob.key, digest) is True
        assert await new.rewrap(blob.key, digest) is False  # idempotent
        assert local.path(blob.key).read_bytes()[5:13] == key_id(KEY_B)
        assert await gather(EncryptedBlobStore(local, KeyRing([KEY_B])).read(blob.key)) == data
        with pytest.raises(BlobUnreadable, match="not configured"):
            await gather(old.read(blob.key))

    asyncio.run(scenario())


def test_rewrap_encrypts_plaintext_only_when_it_matches_its_digest(tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path)
    store = EncryptedBlobStore(local, RING)

    async def scenario() -> None:
        blob = await local.write_bytes(b"stored before encryption")
        with pytest.raises(BlobUnreadable, match="not an encrypted file"):
            await gather(store.read(blob.key))  # never served as if it were genuine
        with pytest.raises(BlobUnreadable, match="sha256"):
            await store.rewrap(blob.key, hashlib.sha256(b"something else").hexdigest())
        assert local.path(blob.key).read_bytes() == b"stored before encryption"  # untouched
        assert await store.rewrap(blob.key, blob.sha256) is True
        assert await gather(store.read(blob.key)) == b"stored before encryption"
        with pytest.raises(BlobUnreadable, match="missing"):
            await store.rewrap("0" * 32, blob.sha256)

    asyncio.run(scenario())


def test_opening_the_store_checks_the_keys_the_files_need(tmp_path: Path) -> None:
    assert isinstance(open_blob_store(tmp_path / "plain", KeyRing()), LocalBlobStore)
    root = tmp_path / "files"
    store = open_blob_store(root, KeyRing([KEY_A]))
    assert isinstance(store, EncryptedBlobStore)
    asyncio.run(store.write_bytes(b"x"))
    assert recorded_key_ids(LocalBlobStore(root)) == [key_id(KEY_A)]
    open_blob_store(root, KeyRing([KEY_B, KEY_A]))  # a new first key is noted
    assert recorded_key_ids(LocalBlobStore(root)) == [key_id(KEY_A), key_id(KEY_B)]
    with pytest.raises(StorageKeyError, match=key_id(KEY_A).hex()):
        open_blob_store(root, KeyRing([KEY_B]))
    with pytest.raises(StorageKeyError, match="encryption_keys is empty"):
        open_blob_store(root, KeyRing())
    (root / ".encryption.json").write_text("{")
    with pytest.raises(StorageKeyError, match="damaged"):
        open_blob_store(root, KeyRing([KEY_A]))
