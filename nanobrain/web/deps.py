"""Request dependencies: who is calling, may they do this, and have they done it too often.

Every route declares the permission it needs with `Depends(require(...))` (or `@lean(...)`);
`current_user` is the single place where the caller's identity is established.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import HTTPConnection

from nanobrain.core.user import User
from nanobrain.security.audit import client_address
from nanobrain.security.credentials import AuthenticationFailed
from nanobrain.security.policy import LOCAL_ADMIN
from nanobrain.security.services import SecurityServices
from nanobrain.web.problems import ProblemError
from nanobrain.web.state import app_state

AUTH_GROUP = "auth"


def _unauthorized(detail: str) -> ProblemError:
    challenge = 'Bearer realm="nanobrain"'
    if detail != "authentication is required":
        challenge += ', error="invalid_token"'
    return ProblemError(401, detail, headers={"WWW-Authenticate": challenge})


async def current_user(connection: HTTPConnection) -> User:
    """The caller. With auth disabled (development) everyone is the local admin; the server then
    only listens on loopback (enforced at start-up)."""
    security = app_state(connection).security
    state = connection.scope.setdefault("state", {})
    if not security.enabled:
        state["caller"] = "addr:" + (client_address(connection) or "-")
        return LOCAL_ADMIN
    try:
        identity = await security.authenticator.identify(connection.scope)
    except AuthenticationFailed as exc:
        # Failed attempts count against the client address, so guessing keys is slow too.
        await limit(connection, security, AUTH_GROUP, "addr:" + (client_address(connection) or "-"))
        raise _unauthorized(str(exc)) from None
    state["caller"] = identity.caller
    state["api_key_id"] = identity.api_key_id
    return identity.user


async def limit(
    connection: HTTPConnection, security: SecurityServices, group: str, caller: str
) -> None:
    """Count a request of `caller` in `group`: 429 past the limit, else RateLimit-* headers."""
    if security.rate_limiter is None:
        return
    verdict = await security.rate_limiter.hit(group, caller)
    if verdict is None:
        return
    if not verdict.allowed:
        raise ProblemError(429, f"too many {group} requests; slow down", headers=verdict.headers())
    connection.scope["state"]["ratelimit"] = verdict


class Permission:
    """A dependency that authenticates, checks one permission and applies the rate limit of the
    permission's route group; routes keep it as metadata (the authorization matrix reads it)."""

    def __init__(self, name: str):
        self.name = name

    async def __call__(self, connection: HTTPConnection) -> User:
        user = await current_user(connection)
        if not user.can(self.name):
            raise ProblemError(403, f"this needs the {self.name!r} permission")
        security = app_state(connection).security
        if security.rate_limiter is not None:
            await limit(connection, security, self.name, connection.scope["state"]["caller"])
        return user


def require(permission: str) -> Callable[[HTTPConnection], Awaitable[User]]:
    return Permission(permission)


async def public_auth(connection: HTTPConnection) -> None:
    """For sign-in routes anyone may call: rate limited per client address."""
    address = "addr:" + (client_address(connection) or "-")
    await limit(connection, app_state(connection).security, AUTH_GROUP, address)


DECLARED = "__nanobrain_permission__"
T = TypeVar("T")


def declares(permission: str) -> Callable[[T], T]:
    """Mark an endpoint that checks `permission` itself (WebSocket, MCP, lean routes), so the
    route table says who may call it as plainly as a `Depends(require(...))` does."""

    def mark(endpoint: T) -> T:
        setattr(endpoint, DECLARED, permission)
        return endpoint

    return mark


def declared_permission(endpoint: Any) -> str | None:
    permission = getattr(endpoint, DECLARED, None)
    return permission if isinstance(permission, str) else None
