"""The security services of one running app, built from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.config import Settings
from nanobrain.security.audit import AuditLog
from nanobrain.security.credentials import Authenticator
from nanobrain.security.jwks import JwksClient
from nanobrain.security.oidc import OidcProvider
from nanobrain.security.ratelimit import LoginThrottle, RateLimiter, create_storage
from nanobrain.security.sessions import Sessions
from nanobrain.security.tokens import TokenSigner, load_signing_key
from nanobrain.store.api_keys import ApiKeyRepository
from nanobrain.store.audit import AuditRepository
from nanobrain.store.refresh_tokens import RefreshTokenRepository
from nanobrain.store.users import UserRepository


@dataclass
class SecurityServices:
    enabled: bool
    users: UserRepository
    api_keys: ApiKeyRepository
    signer: TokenSigner
    authenticator: Authenticator
    sessions: Sessions
    audit: AuditLog
    rate_limiter: RateLimiter | None  # None: rate limits off
    login_throttle: LoginThrottle
    oidc: dict[str, OidcProvider]
    http: httpx.AsyncClient

    async def flush(self) -> None:
        """Write what the request path only noted in memory (audit entries, key usage)."""
        await self.audit.flush()
        await self.authenticator.flush()

    async def close(self) -> None:
        await self.flush()
        await self.http.aclose()


def build_security(settings: Settings, engine: AsyncEngine) -> SecurityServices:
    auth = settings.web_interface.auth_config
    users = UserRepository(engine)
    keys = ApiKeyRepository(engine)
    signer = TokenSigner(load_signing_key(auth), auth.issuer, auth.audience)
    http = httpx.AsyncClient(timeout=10, follow_redirects=False)
    jwks = JwksClient(http)
    storage = create_storage(settings.redis_url)
    limits = auth.rate_limits
    return SecurityServices(
        enabled=auth.enabled,
        users=users,
        api_keys=keys,
        signer=signer,
        authenticator=Authenticator(
            signer, users, keys, jwks, auth.bearer_issuers, auth.credential_cache_seconds
        ),
        sessions=Sessions(
            signer,
            users,
            RefreshTokenRepository(engine),
            auth.access_token_minutes,
            auth.refresh_token_days,
        ),
        audit=AuditLog(AuditRepository(engine)),
        rate_limiter=RateLimiter(limits, storage) if limits.enabled else None,
        login_throttle=LoginThrottle(auth.login_throttle, storage),
        oidc={
            name: OidcProvider(name, provider, jwks, signer)
            for name, provider in auth.oidc_providers.items()
        },
        http=http,
    )
