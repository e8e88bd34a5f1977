"""Who is calling: access JWTs (ours, or another issuer's checked against its JWKS) and API keys.

This is on every request's path, so verified tokens and API keys are cached for
`credential_cache_seconds`, and so are accounts (`UserDirectory`) and signed-out logins
(`Revocations`). Revoking a key, signing out, or changing or removing a user takes effect in
this process at once; other replicas notice when their entry expires.

A caller is counted for rate limits as its user (`user:<id>`), whichever of the user's tokens or
API keys it presents, so minting keys buys no extra budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from nanobrain.config import BearerIssuerConfig
from nanobrain.core.clock import utcnow
from nanobrain.core.user import User
from nanobrain.security import api_keys
from nanobrain.security.accounts import external_user
from nanobrain.security.directory import AccountGone, UserDirectory
from nanobrain.security.jwks import DiscoveryError, JwksClient
from nanobrain.security.policy import lower_role, user_with_role
from nanobrain.security.revocations import Revocations
from nanobrain.security.tokens import InvalidToken, TokenSigner
from nanobrain.store.api_keys import ApiKeyRepository

MAX_CACHED = 50_000


class AuthenticationFailed(Exception):
    """401: no credentials, or credentials that do not hold."""


@dataclass(frozen=True, slots=True)
class Credential:
    """What a caller presents: a bearer token, or an API key (`nbk_...`)."""

    value: str
    is_key: bool

    @classmethod
    def of(cls, value: str) -> Credential:
        value = value.strip()
        return cls(value, api_keys.looks_like_key(value))


def credential_in(headers: Iterable[tuple[bytes, bytes]]) -> Credential | None:
    """The credential a request's headers carry (`X-API-Key`, else `Authorization: Bearer`);
    None without one. Raises `AuthenticationFailed` for another authorization scheme."""
    authorization = None
    for name, value in headers:
        if name == b"x-api-key":
            return Credential(value.decode("latin-1").strip(), True)
        if name == b"authorization":
            authorization = value.decode("latin-1")
    if authorization is None:
        return None
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise AuthenticationFailed("send `Authorization: Bearer <token>` or `X-API-Key`")
    return Credential.of(credential)


@dataclass(frozen=True, slots=True)
class Identity:
    """The principal: who acts, under which rate-limit key, and what to check again later."""

    user: User
    caller: str  # the rate-limit key: user:<id> (every credential of a user shares it)
    api_key_id: str | None = None
    credential: Credential | None = None  # None: not authenticated (auth is off)


@dataclass(frozen=True, slots=True)
class _CachedToken:
    user_id: str
    expires_at: float
    family_id: str | None  # the login (`sid`): None for another issuer's tokens


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
        directory: UserDirectory,
        revocations: Revocations,
        keys: ApiKeyRepository,
        jwks: JwksClient,
        issuers: list[BearerIssuerConfig],
        cache_seconds: float,
    ):
        self.signer = signer
        self.directory = directory
        self.revocations = revocations
        self.keys = keys
        self.jwks = jwks
        self.issuers = {issuer.issuer: issuer for issuer in issuers}
        self.ttl = cache_seconds
        self._tokens: dict[str, _CachedToken] = {}
        self._keys: dict[str, _CachedKey] = {}
        self._last_used: dict[str, datetime] = {}

    # ------------------------------------------------------------------ entry point

    async def authenticate(self, credential: Credential | None) -> Identity:
        """Who presents `credential` at this moment: the account's current role and state, the
        token's expiry and login, the key's expiry and revocation. Raises AuthenticationFailed."""
        if credential is None:
            raise AuthenticationFailed("authentication is required")
        try:
            if credential.is_key:
                return await self._from_key(credential)
            return await self._from_token(credential)
        except AccountGone as exc:
            raise AuthenticationFailed(str(exc)) from None

    # ------------------------------------------------------------------ tokens

    async def _from_token(self, credential: Credential) -> Identity:
        token = credential.value
        cached = self._tokens.get(token)
        if cached is None or cached.expires_at <= time.time():
            cached = await self._verify_token(token)
            self._remember(self._tokens, token, cached)
        if cached.family_id is not None and await self.revocations.revoked(cached.family_id):
            raise AuthenticationFailed("the token's login was signed out or revoked")
        user = await self.directory.current(cached.user_id)
        return Identity(user, "user:" + user.id, None, credential)

    async def _verify_token(self, token: str) -> _CachedToken:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if issuer == self.signer.issuer:
                claims = self.signer.verify(token)
                family = claims.get("sid")
                return _CachedToken(
                    str(claims["sub"]),
                    float(claims["exp"]),
                    family if isinstance(family, str) else None,
                )
            config = self.issuers.get(issuer) if isinstance(issuer, str) else None
            if config is None:
                raise InvalidToken("unknown issuer")
            return await self._verify_foreign(token, config)
        except InvalidToken as exc:
            raise AuthenticationFailed(f"invalid token: {exc}") from None
        except DiscoveryError as exc:
            raise AuthenticationFailed(f"cannot verify the token's issuer: {exc}") from None

    async def _verify_foreign(self, token: str, config: BearerIssuerConfig) -> _CachedToken:
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
            self.directory.users,
            config.issuer,
            subject,
            str(claims.get(config.username_claim) or subject),
            config.default_role,
        )
        return _CachedToken(record.id, float(claims["exp"]), None)

    # ------------------------------------------------------------------ API keys

    async def _from_key(self, credential: Credential) -> Identity:
        now = time.time()
        digest = api_keys.digest(credential.value)
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
        owner = await self.directory.current(cached.owner_id)
        role = lower_role(cached.role, owner.role)  # never more than its owner has now
        user = owner if role == owner.role else user_with_role(owner.id, owner.username, role)
        self._last_used[cached.key_id] = utcnow()
        return Identity(user, "user:" + owner.id, cached.key_id, credential)

    # ------------------------------------------------------------------ cache control

    def _remember(self, cache: dict[str, Any], key: str, value: Any) -> None:
        if len(cache) >= MAX_CACHED:
            cache.clear()
        cache[key] = value

    def forget_user(self, user_id: str) -> None:
        self.directory.forget(user_id)

    def forget_key(self, key_hash: str) -> None:
        self._keys.pop(key_hash, None)

    async def flush(self) -> None:
        """Store API keys' last-used times noted since the previous flush."""
        if self._last_used:
            batch, self._last_used = self._last_used, {}
            await self.keys.touch(batch)
