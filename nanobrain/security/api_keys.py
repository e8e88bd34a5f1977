"""API keys: `nbk_` and 256 random bits. Only the SHA-256 digest is stored; the key is shown once.

A slow hash (argon2) is for guessable secrets; a 256-bit random key cannot be guessed, and a fast
digest keeps the per-request lookup cheap.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "nbk_"
DISPLAY_LENGTH = 12  # "nbk_" and 8 characters: enough to recognise a key in a list


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_LENGTH]


def looks_like_key(value: str) -> bool:
    return value.startswith(PREFIX)
