"""Values encrypted at rest in database columns, each bound to its table, column and row (so a
value copied elsewhere does not decrypt). With the key ring off, values are stored as written."""

from __future__ import annotations

from typing import Any

import orjson

from nanobrain.core import jsoncodec
from nanobrain.crypto.keyring import TEXT_PREFIX, DecryptionError, KeyRing


def context(column: str, row_id: str) -> str:
    """What an encrypted value is bound to: its table and column (`column`) and its row."""
    return f"{column}:{row_id}"


def seal_text(ring: KeyRing, text: str, column: str, row_id: str) -> str:
    return ring.encrypt_text(text, context=context(column, row_id))


def open_text(ring: KeyRing, value: str, column: str, row_id: str) -> str:
    """What `seal_text` stored. With the ring off nothing is decrypted (the key manifest refuses
    keys being removed from encrypted data), so plaintext that merely starts like encrypted text
    reads back as written. Raises `DecryptionError`."""
    if not ring.enabled:
        return value
    return ring.decrypt_text(value, context=context(column, row_id))


def seal_json(ring: KeyRing, value: Any, column: str, row_id: str) -> Any:
    """`value` as stored in a JSON column: None stays None; with the ring on, anything else is
    the encrypted text of its JSON."""
    if value is None or not ring.enabled:
        return value
    return seal_text(ring, jsoncodec.dumps_text(value), column, row_id)


def open_json(ring: KeyRing, value: Any, column: str, row_id: str) -> Any:
    """What `seal_json` stored; a value stored before encryption was enabled is returned as it
    is. Raises `DecryptionError`."""
    if not ring.enabled or not is_sealed(value):
        return value
    text = open_text(ring, value, column, row_id)
    try:
        return jsoncodec.loads(text)
    except orjson.JSONDecodeError:
        raise DecryptionError("the decrypted value is not JSON") from None


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(TEXT_PREFIX)
