"""Keys for encryption at rest: a ring of AES-256 keys in which the first encrypts and all decrypt.

A key is 32 random bytes, configured base64-encoded (`nanobrain keys generate` makes one). Each key
is known by its id, a fingerprint derived from it, and that id is what encrypted data names; the key
itself is never logged, shown or stored. Every encrypted value or file gets its own AES-256-GCM key,
derived from the master key and a random salt with HKDF-SHA256, so no nonce budget is shared
between values.

Small values (chat message content, any text column) use `encrypt_text` / `decrypt_text`; a value
that is not in the encrypted form reads back unchanged, so columns written before encryption was
enabled stay readable. With no keys configured the ring is off and `encrypt_text` stores plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

KEY_BYTES = 32
KEY_ID_BYTES = 8
SALT_BYTES = 16
TEXT_PREFIX = "nbenc1:"  # an encrypted text value: the prefix, then base64url(id, salt, sealed)
_TEXT_INFO = b"nanobrain text v1"
_ZERO_NONCE = bytes(12)  # safe: every value has its own derived key


class DecryptionError(Exception):
    """Encrypted data that does not decrypt: damaged, tampered with, truncated or malformed."""


class UnknownKey(DecryptionError):
    def __init__(self, key_id: bytes):
        super().__init__(f"it is encrypted with key id {key_id.hex()}, which is not configured")
        self.key_id = key_id


def generate_key() -> str:
    """A new key, base64-encoded as configuration takes it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def decode_key(text: str) -> bytes:
    """The key's bytes from its base64 form (standard or URL-safe, padding optional)."""
    compact = "".join(text.split())
    try:
        key = base64.b64decode(
            compact.replace("-", "+").replace("_", "/") + "=" * (-len(compact) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(f"not a base64-encoded {KEY_BYTES}-byte key")
    return key


def key_id(key: bytes) -> bytes:
    """A key's public name: a hash of it (it reveals nothing usable about the key)."""
    return hashlib.sha256(b"nanobrain key id\0" + key).digest()[:KEY_ID_BYTES]


class KeyRing:
    def __init__(self, keys: Sequence[bytes] = ()):
        self._keys: dict[bytes, bytes] = {}  # id -> key, in configured order
        for key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"an encryption key must be {KEY_BYTES} bytes")
            self._keys.setdefault(key_id(key), key)

    @classmethod
    def from_secrets(cls, secrets: Sequence[SecretStr]) -> KeyRing:
        """The ring of configured keys; a ValueError names a bad entry by index, never by value."""
        keys: list[bytes] = []
        for index, secret in enumerate(secrets):
            try:
                key = decode_key(secret.get_secret_value())
            except ValueError:
                raise ValueError(
                    f"entry {index} is not a base64-encoded {KEY_BYTES}-byte key "
                    "(make one with `nanobrain keys generate`)"
                ) from None
            if key in keys:
                raise ValueError(f"entries {keys.index(key)} and {index} are the same key")
            keys.append(key)
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    @property
    def ids(self) -> list[bytes]:
        return list(self._keys)

    @property
    def primary_id(self) -> bytes:
        """The id of the key new data is encrypted with."""
        if not self._keys:
            raise RuntimeError("no encryption key is configured")
        return next(iter(self._keys))

    def cipher(self, key_id: bytes, salt: bytes, purpose: bytes) -> AESGCM:
        """The AES-256-GCM cipher of one value or file: its own key, derived from the master key
        `key_id` names, a random `salt` and the `purpose` (so no two uses share a key)."""
        master = self._keys.get(key_id)
        if master is None:
            raise UnknownKey(key_id)
        derived = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=purpose)
        return AESGCM(derived.derive(master))

    def encrypt_text(self, text: str, *, context: str = "") -> str:
        """`text` encrypted under the primary key (unchanged when the ring is off). `context`
        (e.g. a table, column and row id) is authenticated: decrypting needs the same one, so a
        value copied to another row does not decrypt."""
        if not self.enabled:
            return text
        kid, salt = self.primary_id, os.urandom(SALT_BYTES)
        sealed = self.cipher(kid, salt, _TEXT_INFO).encrypt(
            _ZERO_NONCE, text.encode(), _text_aad(kid, context)
        )
        return TEXT_PREFIX + base64.urlsafe_b64encode(kid + salt + sealed).decode().rstrip("=")

    def decrypt_text(self, value: str, *, context: str = "") -> str:
        """The text `encrypt_text` made `value` from; a value not in the encrypted form (written
        before encryption was enabled) is returned as it is. Raises `DecryptionError`."""
        if not value.startswith(TEXT_PREFIX):
            return value
        kid, salt, sealed = _split_text(value)
        try:
            plain = self.cipher(kid, salt, _TEXT_INFO).decrypt(
                _ZERO_NONCE, sealed, _text_aad(kid, context)
            )
        except InvalidTag:
            raise DecryptionError("the value failed its integrity check") from None
        return plain.decode()

    def is_current(self, value: str) -> bool:
        """Whether `value` is encrypted under the primary key, so rotation can skip it."""
        return (
            self.enabled
            and value.startswith(TEXT_PREFIX)
            and _split_text(value)[0] == self.primary_id
        )


def _text_aad(kid: bytes, context: str) -> bytes:
    return TEXT_PREFIX.encode() + kid + context.encode()


def _split_text(value: str) -> tuple[bytes, bytes, bytes]:
    body = value[len(TEXT_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise DecryptionError("the value is not valid encrypted text") from None
    if len(raw) < KEY_ID_BYTES + SALT_BYTES + 16:
        raise DecryptionError("the value is too short to be encrypted text")
    salt_end = KEY_ID_BYTES + SALT_BYTES
    return raw[:KEY_ID_BYTES], raw[KEY_ID_BYTES:salt_end], raw[salt_end:]
