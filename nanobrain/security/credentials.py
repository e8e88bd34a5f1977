"""Who is calling: access JWTs (ours, or another issuer's checked against its JWKS) and API keys.

This is on every request's path, so verified tokens, users and API keys are cached for
`credential_cache_seconds`. Revoking a key, or changing or removing a user, evicts the entry in
this process at once; other replicas notice when their entry expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from starlette.types import Scope

from nanobrain.config import BearerIssuerConfig
from nanobrain.core.user import User
from nanobrain.security import api_keys
from nanobrain.security.accounts import external_user
from nanobrain.security.jwks import DiscoveryError, JwksClient
from nanobrain.security.policy import lower_role, user_with_role
from nanobrain.security.tokens import InvalidToken, TokenSigner
from nanobrain.store.api_keys import ApiKeyRepository
from nanobrain.store.executions import utcnow
from nanobrain.store.users import UserRepository

MAX_CACHED = 50_000


class AuthenticationFailed(Exception):
    """401: no credentials, or credentials that do not hold."""


@dataclass(frozen=True, slots=True)
class Identity:
    user: User
    caller: str  # the rate-limit key: user:<id> or key:<id>
    api_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class _CachedKey:
    key_id: str
    owner_id: str
    role: str
    expires_at: float | None
    valid_until: float


class Authenticator:
    def __init__(
        self,
        signer: TokenSigner,
        users: UserRepository,
        keys: ApiKeyRepository,
        jwks: JwksClient,
        issuers: list[BearerIssuerConfig],
        cache_seconds: float,
    ):
        self.signer = signer
        self.users = users
        self.keys = keys
        self.jwks = jwks
        self.issuers = {issuer.issuer: issuer for issuer in issuers}
        self.ttl = cache_seconds
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (user id, exp)
        self._users: dict[str, tuple[User | None, float]] = {}
        self._keys: dict[str, _CachedKey] = {}
        self._last_used: dict[str, datetime] = {}

    # ------------------------------------------------------------------ entry point

    async def identify(self, scope: Scope) -> Identity:
        authorization = api_key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-api-key":
                api_key = value.decode("latin-1").strip()
        if api_key is None and authorization is not None:
            scheme, _, credential = authorization.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise AuthenticationFailed("send `Authorization: Bearer <token>` or `X-API-Key`")
            if not api_keys.looks_like_key(credential):
                return await self._from_token(credential)
            api_key = credential
        if api_key is not None:
            return await self._from_key(api_key)
        raise AuthenticationFailed("authentication is required")

    # ------------------------------------------------------------------ tokens

    async def _from_token(self, token: str) -> Identity:
        now = time.time()
        cached = self._tokens.get(token)
        if cached is not None and cached[1] > now:
            user_id = cached[0]
        else:
            user_id, expires = await self._verify_token(token)
            self._remember(self._tokens, token, (user_id, expires))
        user = await self._user(user_id)
        return Identity(user, "user:" + user.id)

    async def _verify_token(self, token: str) -> tuple[str, float]:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if issuer == self.signer.issuer:
                claims = self.signer.verify(token)
                return str(claims["sub"]), float(claims["exp"])
            config = self.issuers.get(issuer) if isinstance(issuer, str) else None
            if config is None:
                raise InvalidToken("unknown issuer")
            return await self._verify_foreign(token, config)
        except InvalidToken as exc:
            raise AuthenticationFailed(f"invalid token: {exc}") from None
        except DiscoveryError as exc:
            raise AuthenticationFailed(f"cannot verify the token's issuer: {exc}") from None

    async def _verify_foreign(self, token: str, config: BearerIssuerConfig) -> tuple[str, float]:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in config.algorithms:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        jwks_uri = config.jwks_uri or (await self.jwks.discovery(config.issuer))["jwks_uri"]
        key = await self.jwks.signing_key(jwks_uri, header.get("kid"))
        claims = jwt.decode(
            token,
            key,
            algorithms=config.algorithms,
            audience=config.audience,
            issuer=config.issuer,
            options={"require": ["iss", "aud", "exp", "sub"]},
        )
        subject = str(claims["sub"])
        record = await external_user(
            self.users,
            config.issuer,
            subject,
            str(claims.get(config.username_claim) or subject),
            config.default_role,
        )
        return record.id, float(claims["exp"])

    async def _user(self, user_id: str) -> User:
        now = time.time()
        cached = self._users.get(user_id)
        if cached is not None and cached[1] > now:
            user = cached[0]
        else:
            record = await self.users.get(user_id)
            user = (
                user_with_role(record.id, record.username, record.role)
                if record is not None and not record.disabled
                else None
            )
            self._remember(self._users, user_id, (user, now + self.ttl))
        if user is None:
            raise AuthenticationFailed("the account is disabled or no longer exists")
        return user

    # ------------------------------------------------------------------ API keys

    async def _from_key(self, key: str) -> Identity:
        now = time.time()
        digest = api_keys.digest(key)
        cached = self._keys.get(digest)
        if cached is None or cached.valid_until <= now:
            record = await self.keys.by_hash(digest)
            cached = (
                _CachedKey(
                    record.id,
                    record.owner_id,
                    record.role,
                    record.expires_at.timestamp() if record.expires_at else None,
                    now + self.ttl,
                )
                if record is not None and record.revoked_at is None
                else None
            )
            if cached is None:
                raise AuthenticationFailed("unknown or revoked API key")
            self._remember(self._keys, digest, cached)
        if cached.expires_at is not None and cached.expires_at <= now:
            raise AuthenticationFailed("the API key has expired")
        owner = await self._user(cached.owner_id)
        role = lower_role(cached.role, owner.role)  # never more than its owner has now
        user = owner if role == owner.role else user_with_role(owner.id, owner.username, role)
        self._last_used[cached.key_id] = utcnow()
        return Identity(user, "key:" + cached.key_id, cached.key_id)

    # ------------------------------------------------------------------ cache control

    def _remember(self, cache: dict[str, Any], key: str, value: Any) -> None:
        if len(cache) >= MAX_CACHED:
            cache.clear()
        cache[key] = value

    def forget_user(self, user_id: str) -> None:
        self._users.pop(user_id, None)

    def forget_key(self, key_hash: str) -> None:
        self._keys.pop(key_hash, None)

    async def flush(self) -> None:
        """Store API keys' last-used times noted since the previous flush."""
        if self._last_used:
            batch, self._last_used = self._last_used, {}
            await self.keys.touch(batch)
