"""`web_interface.auth_config`: who may call, how they prove it, and how often."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from nanobrain.config.base import Role, Section


class OidcProviderConfig(Section):
    """An OpenID Connect provider for browser login (authorization code + PKCE + state)."""

    issuer: str  # its discovery document is at {issuer}/.well-known/openid-configuration
    client_id: str
    client_secret: SecretStr | None = None  # None: a public client (PKCE only)
    scopes: list[str] = ["openid", "email", "profile"]
    default_role: Role = "user"  # the role of a user created on first login
    username_claim: str = "email"  # falls back to preferred_username, then sub


class BearerIssuerConfig(Section):
    """An issuer whose own JWTs are accepted as bearer tokens, verified against its JWKS."""

    issuer: str
    audience: str
    jwks_uri: str | None = None  # None: taken from the issuer's discovery document
    algorithms: list[str] = ["RS256", "ES256"]
    default_role: Role = "user"
    username_claim: str = "sub"


class RateLimitConfig(Section):
    """Per caller (user, API key or client address) and per route group, with `limits` syntax
    ("100/minute", "10 per second"). Storage is in memory, or Redis when `redis_url` is set."""

    enabled: bool = True
    groups: dict[str, str] = {
        "read": "1200/minute",
        "execute": "600/minute",
        "write": "300/minute",
        "admin": "300/minute",
        "auth": "60/minute",
    }

    @field_validator("groups")
    @classmethod
    def _valid_limits(cls, groups: dict[str, str]) -> dict[str, str]:
        from limits import parse

        for group, spec in groups.items():
            try:
                parse(spec)
            except ValueError:
                raise ValueError(
                    f"{group}: {spec!r} is not a rate limit like '100/minute'"
                ) from None
        return groups


class LoginThrottleConfig(Section):
    """Failed logins per (username, client address): past these, that pair waits; a success
    clears them, and another address is never held back by an attacker's failures."""

    per_minute: int = Field(default=5, ge=1)
    per_hour: int = Field(default=20, ge=1)


class AuthConfig(Section):
    enabled: bool
    jwt_secret: SecretStr | None = None  # HS256; None in development: a per-process secret
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    jwt_private_key_file: Path | None = None  # PEM key for RS256 / ES256
    jwt_key_id: str | None = None  # None: derived from the key
    access_token_minutes: int = Field(default=30, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    mock_users: bool = False
    issuer: str = "nanobrain"
    audience: str = "nanobrain"
    credential_cache_seconds: float = Field(default=5, ge=0)
    max_api_keys_per_user: int = Field(default=25, ge=1)  # active keys; one more: 409
    oidc_providers: dict[str, OidcProviderConfig] = {}
    bearer_issuers: list[BearerIssuerConfig] = []
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    login_throttle: LoginThrottleConfig = Field(default_factory=LoginThrottleConfig)

    @model_validator(mode="after")
    def _asymmetric_needs_a_key(self) -> AuthConfig:
        if self.jwt_algorithm != "HS256" and self.jwt_private_key_file is None:
            raise ValueError(f"jwt_algorithm {self.jwt_algorithm} requires jwt_private_key_file")
        return self
