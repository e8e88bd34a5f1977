"""Request dependencies: who is calling, may they do this, and have they done it too often.

Every route declares the permission it needs with `Depends(require(...))` (or `@lean(...)`);
each asks the app's one `Guard` (security/guard.py), as the WebSocket and MCP do. The principal
is kept in the request's state (`IDENTITY`) for checks made later: a stream re-checks it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import HTTPConnection

from nanobrain.core.execution import ExecutionRecord
from nanobrain.core.user import User
from nanobrain.runtime.events.base import Event
from nanobrain.runtime.outages import unavailable
from nanobrain.runtime.service import visible
from nanobrain.security.audit import client_address
from nanobrain.security.credentials import Identity
from nanobrain.security.guard import AUTH_GROUP, Refused
from nanobrain.web.problems import ProblemError
from nanobrain.web.state import app_state

log = logging.getLogger(__name__)
IDENTITY = "identity"  # the request's principal, in `scope["state"]`


def problem_of(refused: Refused) -> ProblemError:
    return ProblemError(refused.status, refused.detail, headers=refused.headers)


class Permission:
    """A dependency that authenticates, checks one permission and applies the rate limit of the
    permission's route group; routes keep it as metadata (the authorization matrix reads it)."""

    def __init__(self, name: str):
        self.name = name

    async def __call__(self, connection: HTTPConnection) -> User:
        guard = app_state(connection).security.guard
        try:
            identity = await guard.identify_request(connection)
            guard.allow(identity, self.name)
            verdict = await guard.count(self.name, identity.caller) if guard.rate_limiter else None
        except Refused as exc:
            raise problem_of(exc) from None
        state = connection.scope.setdefault("state", {})
        state[IDENTITY] = identity
        if verdict is not None:
            state["ratelimit"] = verdict
        return identity.user


def require(permission: str) -> Callable[[HTTPConnection], Awaitable[User]]:
    return Permission(permission)


async def public_auth(connection: HTTPConnection) -> None:
    """For sign-in routes anyone may call: rate limited per client address."""
    guard = app_state(connection).security.guard
    try:
        verdict = await guard.count(AUTH_GROUP, "addr:" + (client_address(connection) or "-"))
    except Refused as exc:
        raise problem_of(exc) from None
    if verdict is not None:
        connection.scope.setdefault("state", {})["ratelimit"] = verdict


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


async def while_allowed(
    connection: HTTPConnection, record: ExecutionRecord, batches: AsyncIterator[list[Event]]
) -> AsyncIterator[list[Event]]:
    """`batches` of the execution's events, each sent only while the request's principal (as it
    stands now: `Guard.recheck`) may still see the execution. The stream ends when it may not;
    the client's reconnect is then refused (401, or 404) like any request."""
    identity: Identity | None = connection.scope.get("state", {}).get(IDENTITY)
    guard = app_state(connection).security.guard
    try:
        async for batch in batches:
            if identity is not None:
                try:
                    identity = await guard.recheck(identity)
                except Refused:
                    return
                except Exception as exc:  # cannot check now: no delivery without a check
                    if unavailable(exc) is not None:
                        raise  # the stream ends with `reconnect` (web/streaming.py)
                    log.warning("cannot re-check a stream's principal: %r", exc)
                    return
                if not visible(record, identity.user):
                    return
            yield batch
    finally:
        close = getattr(batches, "aclose", None)  # stop following the bus now, not at GC
        if close is not None:
            await close()
