"""`storage`: encryption of stored files and chat at rest."""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from nanobrain.config.base import Section


class StorageConfig(Section):
    """Stored files and chat are encrypted at rest when keys are configured: each base64 of 32
    random bytes (`nanobrain keys generate`); the first encrypts, all decrypt."""

    encryption_keys: list[SecretStr] = []

    @field_validator("encryption_keys")
    @classmethod
    def _valid_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        from nanobrain.crypto.keyring import KeyRing

        KeyRing.from_secrets(keys)  # a ValueError names the entry, never its value
        return keys
