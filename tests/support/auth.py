"""Servers with authentication on, and the accounts the security tests act as."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

ADMIN = ("root", "root-password-1")
JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
ROLES = ("admin", "developer", "user", "guest")


def auth_env(**extra: str) -> dict[str, str]:
    """Auth on, a known HS256 secret, the first admin from the environment, no rate limits."""
    return {
        "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__ENABLED": "true",
        "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__JWT_SECRET": JWT_SECRET,
        "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__ENABLED": "false",
        "NANOBRAIN_ADMIN_USERNAME": ADMIN[0],
        "NANOBRAIN_ADMIN_PASSWORD": ADMIN[1],
        **extra,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(
    api: str, username: str, password: str, verify: Any = True, **headers: str
) -> dict[str, Any]:
    response = httpx.post(
        f"{api}/auth/login",
        json={"username": username, "password": password},
        headers=headers,
        verify=verify,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Accounts:
    """One user per role (plus a second plain user), each with an access token."""

    api: str
    tokens: dict[str, str]
    ids: dict[str, str]

    def headers(self, name: str) -> dict[str, str]:
        return bearer(self.tokens[name])


def create_accounts(api: str, verify: Any = True) -> Accounts:
    """`verify`: httpx's, e.g. the SSL context that trusts a test server's own certificate."""
    root = login(api, *ADMIN, verify=verify)["access_token"]
    me = httpx.get(f"{api}/auth/me", headers=bearer(root), verify=verify).json()
    tokens, ids = {"admin": root}, {"admin": me["id"]}
    for name, role in [(r, r) for r in ROLES[1:]] + [("other-user", "user")]:
        password = f"{name}-password"
        created = httpx.post(
            f"{api}/admin/users",
            json={"username": name, "password": password, "role": role},
            headers=bearer(root),
            verify=verify,
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
        tokens[name] = login(api, name, password, verify=verify)["access_token"]
    return Accounts(api, tokens, ids)


def forge(
    secret: Any, algorithm: str = "HS256", kid: str = "nanobrain-hs256", **claims: Any
) -> str:
    """A token signed with `secret`, with valid-looking defaults that `claims` override."""
    now = int(time.time())
    payload = {
        "iss": "nanobrain",
        "aud": "nanobrain",
        "sub": "nobody",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "forged",
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, secret, algorithm=algorithm, headers={"kid": kid})
