"""Signing in and staying signed in: access + refresh token pairs, rotation and logout.

A login is a refresh-token family; its access tokens carry the family's id as `sid`, so signing
out, or a refresh token presented twice, ends the access tokens of that login too (within
`credential_cache_seconds` on other replicas, at once on this one; see `Revocations`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nanobrain.core.clock import utcnow
from nanobrain.core.ids import new_id
from nanobrain.security.revocations import Revocations
from nanobrain.security.tokens import TokenSigner
from nanobrain.store.refresh_tokens import RefreshTokenRepository
from nanobrain.store.users import UserRecord, UserRepository


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked, or was used before."""

    def __init__(self, reason: str, reused: bool = False, user_id: str | None = None):
        super().__init__(reason)
        self.reused = reused
        self.user_id = user_id


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        signer: TokenSigner,
        users: UserRepository,
        refresh_tokens: RefreshTokenRepository,
        revocations: Revocations,
        access_minutes: int,
        refresh_days: int,
    ):
        self.signer = signer
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.revocations = revocations
        self.access_seconds = access_minutes * 60
        self.refresh_lifetime = timedelta(days=refresh_days)

    async def start(self, user: UserRecord) -> TokenPair:
        """A new login: a new token family."""
        return await self._pair(user, new_id())

    async def _pair(self, user: UserRecord, family_id: str) -> TokenPair:
        access = self.signer.sign(
            user.id,
            self.access_seconds,
            name=user.username,
            role=user.role,
            typ="access",
            sid=family_id,
        )
        refresh = "nbr_" + secrets.token_urlsafe(32)
        await self.refresh_tokens.add(
            _digest(refresh), family_id, user.id, utcnow() + self.refresh_lifetime
        )
        return TokenPair(access, refresh, self.access_seconds)

    async def refresh(self, refresh_token: str) -> tuple[TokenPair, UserRecord]:
        """Rotate: the presented token is used up and the family's next pair is issued. A token
        used a second time revokes its whole family (the thief's copy and the owner's)."""
        record = await self.refresh_tokens.get(_digest(refresh_token))
        if record is None:
            raise RefreshRefused("unknown refresh token")
        if record.revoked_at is not None:
            raise RefreshRefused("the refresh token was revoked", user_id=record.user_id)
        if record.used_at is not None or not await self.refresh_tokens.mark_used(record.id):
            await self._revoke(record.family_id)
            raise RefreshRefused(
                "the refresh token was already used; its sessions are revoked",
                reused=True,
                user_id=record.user_id,
            )
        if record.expires_at <= utcnow():
            raise RefreshRefused("the refresh token has expired", user_id=record.user_id)
        user = await self.users.get(record.user_id)
        if user is None or user.disabled:
            raise RefreshRefused("the account is disabled or no longer exists")
        return await self._pair(user, record.family_id), user

    async def logout(self, refresh_token: str) -> str | None:
        """Revoke the token's family; the user id, or None for an unknown token."""
        record = await self.refresh_tokens.get(_digest(refresh_token))
        if record is None:
            return None
        await self._revoke(record.family_id)
        return record.user_id

    async def _revoke(self, family_id: str) -> None:
        await self.refresh_tokens.revoke_family(family_id)
        self.revocations.note(family_id)

    async def revoke_user(self, user_id: str) -> None:
        """End every login of the user (password changed, account disabled or deleted)."""
        await self.refresh_tokens.revoke_user(user_id)
        self.revocations.forget()
