"""OpenID Connect sign-in with a configured provider: authorization code flow with PKCE (S256),
`state` and `nonce`, using Authlib's OAuth 2 client.

Between the redirect to the provider and the callback, the pending login (state, nonce, PKCE
verifier) travels in a short-lived signed cookie, so any replica can complete it and nothing
is kept server-side. The callback must bring back the same `state`; the ID token must be signed
by a key of the issuer's JWKS, be for this client, and carry the nonce.
"""

from __future__ import annotations

import secrets
import warnings
from typing import Any

import httpx
import jwt
from authlib.deprecate import AuthlibDeprecationWarning

from nanobrain.config import OidcProviderConfig
from nanobrain.security.jwks import DiscoveryError, JwksClient
from nanobrain.security.tokens import InvalidToken, TokenSigner

with warnings.catch_warnings():  # Authlib prefers the httpx2 fork; httpx is the one we ship
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

PENDING_AUDIENCE = "nanobrain:oidc-login"
PENDING_SECONDS = 600


class OidcError(Exception):
    """The sign-in cannot complete; the message says why (never a secret). `bad_request`: the
    callback does not belong to a sign-in started in this browser (missing or wrong state)."""

    def __init__(self, message: str, bad_request: bool = False):
        super().__init__(message)
        self.bad_request = bad_request


class OidcProvider:
    def __init__(
        self,
        name: str,
        config: OidcProviderConfig,
        jwks: JwksClient,
        signer: TokenSigner,
    ):
        self.name = name
        self.config = config
        self.jwks = jwks
        self.signer = signer

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        secret = self.config.client_secret
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            timeout=10,
        )

    async def _metadata(self) -> dict[str, Any]:
        try:
            return await self.jwks.discovery(self.config.issuer)
        except DiscoveryError as exc:
            raise OidcError(f"the provider {self.name!r} is unreachable: {exc}") from None

    async def begin(self, redirect_uri: str) -> tuple[str, str]:
        """The provider's authorization URL to redirect to, and the pending-login cookie."""
        metadata = await self._metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
            )
        pending = self.signer.sign(
            self.name,
            PENDING_SECONDS,
            audience=PENDING_AUDIENCE,
            state=state,
            nonce=nonce,
            verifier=verifier,
            redirect_uri=redirect_uri,
        )
        return url, pending

    async def complete(self, pending_cookie: str | None, state: str, code: str) -> dict[str, Any]:
        """The verified ID token claims of the signed-in account."""
        if not pending_cookie:
            raise OidcError(
                "no sign-in is in progress in this browser (the cookie is missing)", True
            )
        try:
            pending = self.signer.verify(pending_cookie, audience=PENDING_AUDIENCE)
        except InvalidToken:
            raise OidcError("the sign-in expired or its cookie was tampered with", True) from None
        if pending["sub"] != self.name or not secrets.compare_digest(str(pending["state"]), state):
            raise OidcError("the state does not match the sign-in started in this browser", True)
        metadata = await self._metadata()
        try:
            async with self._client(pending["redirect_uri"]) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=pending["verifier"]
                )
        except OAuthError as exc:
            raise OidcError(f"the provider refused the code: {exc.error}") from None
        except httpx.HTTPError as exc:
            raise OidcError(f"the provider is unreachable: {type(exc).__name__}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the provider sent no ID token")
        claims = await self._verify_id_token(id_token, metadata)
        if not secrets.compare_digest(str(claims.get("nonce", "")), str(pending["nonce"])):
            raise OidcError("the ID token's nonce does not match the sign-in")
        return claims

    async def _verify_id_token(self, id_token: str, metadata: dict[str, Any]) -> dict[str, Any]:
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in algorithms if alg != "none"]
        try:
            header = jwt.get_unverified_header(id_token)
            key = await self.jwks.signing_key(metadata["jwks_uri"], header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=algorithms,
                audience=self.config.client_id,
                issuer=metadata["issuer"],
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except (InvalidToken, DiscoveryError) as exc:
            raise OidcError(f"the ID token does not verify: {exc}") from None
        return claims

    def username(self, claims: dict[str, Any]) -> str:
        for claim in (self.config.username_claim, "preferred_username", "email"):
            value = claims.get(claim)
            if isinstance(value, str) and value:
                return value
        return str(claims["sub"])
