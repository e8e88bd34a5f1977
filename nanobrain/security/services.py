"""The security services of one running app, built from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.config import Settings
from nanobrain.security.audit import AuditLog
from nanobrain.security.credentials import Authenticator
from nanobrain.security.directory import UserDirectory
from nanobrain.security.guard import Guard
from nanobrain.security.jwks import JwksClient
from nanobrain.security.oidc import OidcProvider
from nanobrain.security.ratelimit import LoginThrottle, RateLimiter, create_storage
from nanobrain.security.revocations import Revocations
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
    guard: Guard  # every transport's authorization decision
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


def build_security(
    settings: Settings, engine: AsyncEngine, directory: UserDirectory | None = None
) -> SecurityServices:
    """`directory`: the runtime's, when it has one, so that both share one cache of accounts."""
    auth = settings.web_interface.auth_config
    users = UserRepository(engine)
    keys = ApiKeyRepository(engine)
    directory = directory or UserDirectory(users, auth.credential_cache_seconds)
    refresh_tokens = RefreshTokenRepository(engine)
    revocations = Revocations(refresh_tokens, auth.credential_cache_seconds)
    signer = TokenSigner(load_signing_key(auth), auth.issuer, auth.audience)
    http = httpx.AsyncClient(timeout=10, follow_redirects=False)
    jwks = JwksClient(http)
    storage = create_storage(settings.redis_url, settings.runtime.dependency_timeout_seconds)
    limits = auth.rate_limits
    authenticator = Authenticator(
        signer,
        directory,
        revocations,
        keys,
        jwks,
        auth.bearer_issuers,
        auth.credential_cache_seconds,
    )
    rate_limiter = RateLimiter(limits, storage) if limits.enabled else None
    return SecurityServices(
        enabled=auth.enabled,
        users=users,
        api_keys=keys,
        signer=signer,
        authenticator=authenticator,
        guard=Guard(auth.enabled, authenticator, rate_limiter),
        sessions=Sessions(
            signer,
            users,
            refresh_tokens,
            revocations,
            auth.access_token_minutes,
            auth.refresh_token_days,
        ),
        audit=AuditLog(AuditRepository(engine)),
        rate_limiter=rate_limiter,
        login_throttle=LoginThrottle(auth.login_throttle, storage),
        oidc={
            name: OidcProvider(name, provider, jwks, signer)
            for name, provider in auth.oidc_providers.items()
        },
        http=http,
    )
