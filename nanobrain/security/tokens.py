"""Signed JWTs: access tokens and short-lived signed state, with PyJWT.

One key signs: an HS256 secret or an RS256 / ES256 private key, named by a key id (`kid`).
Verification accepts only that algorithm and that key id, and requires `iss`, `aud`, `exp`,
`nbf`, `iat`, `jti` and `sub`, so `alg: none`, algorithm confusion (an HS256 token keyed with
the public key), foreign issuers or audiences and unknown keys are all refused.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from nanobrain.config import AuthConfig

log = logging.getLogger(__name__)
REQUIRED_CLAIMS = ["iss", "aud", "exp", "nbf", "iat", "jti", "sub"]
InvalidToken = jwt.InvalidTokenError


@dataclass(frozen=True)
class SigningKey:
    algorithm: str
    signing: Any  # the secret, or the private key
    verifying: Any  # the secret, or the public key
    kid: str


def load_signing_key(auth: AuthConfig) -> SigningKey:
    if auth.jwt_algorithm == "HS256":
        if auth.jwt_secret is None:
            if auth.enabled:
                log.warning(
                    "web_interface.auth_config.jwt_secret is not set: tokens are signed with "
                    "a per-process secret and stop working at restart"
                )
            secret = secrets.token_bytes(32)
        else:
            secret = auth.jwt_secret.get_secret_value().encode()
        return SigningKey("HS256", secret, secret, auth.jwt_key_id or "nanobrain-hs256")
    assert auth.jwt_private_key_file is not None  # enforced by AuthConfig
    private = serialization.load_pem_private_key(
        auth.jwt_private_key_file.read_bytes(), password=None
    )
    public = private.public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = auth.jwt_key_id or base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode()
    return SigningKey(auth.jwt_algorithm, private, public, kid)


class TokenSigner:
    def __init__(self, key: SigningKey, issuer: str, audience: str):
        self.key = key
        self.issuer = issuer
        self.audience = audience

    def sign(
        self, subject: str, ttl_seconds: int, audience: str | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": audience or self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": secrets.token_hex(16),
            **claims,
        }
        return jwt.encode(
            payload, self.key.signing, algorithm=self.key.algorithm, headers={"kid": self.key.kid}
        )

    def verify(self, token: str, audience: str | None = None) -> dict[str, Any]:
        """The claims of a token this server signed; raises `InvalidToken` otherwise."""
        header = jwt.get_unverified_header(token)
        if header.get("kid") != self.key.kid:
            raise InvalidToken("unknown key id")
        claims: dict[str, Any] = jwt.decode(
            token,
            self.key.verifying,
            algorithms=[self.key.algorithm],
            audience=audience or self.audience,
            issuer=self.issuer,
            options={"require": REQUIRED_CLAIMS},
        )
        return claims
