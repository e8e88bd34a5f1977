"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile).

Hashing is deliberately slow, so it runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the username is unknown, so that a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("nanobrain-dummy-password")
MIN_LENGTH = 8


class WeakPassword(ValueError):
    pass


def check_strength(password: str, username: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if username and password.lower() == username.lower():
        raise WeakPassword("the password must not be the username")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; a missing hash (unknown user, OIDC-only user) never does."""
    return await asyncio.to_thread(_verify, password_hash, password)
