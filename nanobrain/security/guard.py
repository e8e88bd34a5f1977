"""The one authorization decision, for every transport and every action.

HTTP routes (`web.deps.Permission`), each WebSocket message, MCP, the OpenAI-compatible `/v1`
and live streams all ask the `Guard`, at the moment of the action:

1. who the caller is now (`identify`): the credential still holds (token signature, expiry and
   login not signed out; API key not expired or revoked) and the account is active, with its
   current role. Failures are counted against the client address, so guessing is slow too.
2. whether that role grants the action's permission (`permit`), and the rate limit of the
   action's group, counted per user whatever credential the user presents.

Ownership of the ids an action names (executions, chat sessions, files) is decided where those
are looked up, in the runtime's services, so no transport can skip it either.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from nanobrain.security.audit import client_address
from nanobrain.security.credentials import (
    AuthenticationFailed,
    Authenticator,
    Credential,
    Identity,
    credential_in,
)
from nanobrain.security.policy import LOCAL_ADMIN
from nanobrain.security.ratelimit import RateLimiter, Verdict

AUTH_GROUP = "auth"
UNAUTHENTICATED = "authentication is required"
MAX_LOCAL = 10_000


class Refused(Exception):
    """The action is refused: 401 (who?), 403 (not allowed) or 429 (too often)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def _unauthorized(detail: str) -> Refused:
    challenge = 'Bearer realm="nanobrain"'
    if detail != UNAUTHENTICATED:
        challenge += ', error="invalid_token"'
    return Refused(401, detail, {"WWW-Authenticate": challenge})


class Guard:
    def __init__(
        self, enabled: bool, authenticator: Authenticator, rate_limiter: RateLimiter | None
    ):
        self.enabled = enabled
        self.authenticator = authenticator
        self.rate_limiter = rate_limiter
        self._locals: dict[str, Identity] = {}  # auth off: the local admin, per address

    async def identify(self, credential: Credential | None, connection: HTTPConnection) -> Identity:
        """The principal presenting `credential` on `connection` now. With auth off
        (development) everyone is the local admin, counted by client address."""
        if not self.enabled:
            return self._local(connection)
        try:
            return await self.authenticator.authenticate(credential)
        except AuthenticationFailed as exc:
            raise await self._failed(connection, str(exc)) from None

    async def identify_request(self, connection: HTTPConnection) -> Identity:
        """`identify` with the credential the request's headers carry."""
        if not self.enabled:
            return self._local(connection)
        try:
            credential = credential_in(connection.scope["headers"])
        except AuthenticationFailed as exc:
            raise await self._failed(connection, str(exc)) from None
        return await self.identify(credential, connection)

    async def _failed(self, connection: HTTPConnection, detail: str) -> Refused:
        """A failed attempt counts against the client address, so guessing is slow too."""
        await self.count(AUTH_GROUP, "addr:" + (client_address(connection) or "-"))
        return _unauthorized(detail)

    def _local(self, connection: HTTPConnection) -> Identity:
        address = client_address(connection) or "-"
        identity = self._locals.get(address)
        if identity is None:
            if len(self._locals) >= MAX_LOCAL:
                self._locals.clear()
            identity = self._locals[address] = Identity(LOCAL_ADMIN, "addr:" + address)
        return identity

    async def recheck(self, identity: Identity) -> Identity:
        """The same principal as it stands now (for a live stream or socket): 401 when its
        credential no longer holds. Counts nothing."""
        if not self.enabled or identity.credential is None:
            return identity
        try:
            return await self.authenticator.authenticate(identity.credential)
        except AuthenticationFailed as exc:
            raise _unauthorized(str(exc)) from None

    def allow(self, identity: Identity, permission: str) -> None:
        """403 unless the principal's role grants `permission`."""
        if not identity.user.can(permission):
            raise Refused(403, f"this needs the {permission!r} permission")

    async def permit(self, identity: Identity, permission: str) -> Verdict | None:
        """`allow`, then count the action in the permission's rate-limit group (429 past it);
        the verdict gives the RateLimit headers."""
        self.allow(identity, permission)
        if self.rate_limiter is None:
            return None
        return await self.count(permission, identity.caller)

    async def count(self, group: str, caller: str) -> Verdict | None:
        if self.rate_limiter is None:
            return None
        verdict = await self.rate_limiter.hit(group, caller)
        if verdict is not None and not verdict.allowed:
            raise Refused(429, f"too many {group} requests; slow down", verdict.headers())
        return verdict

    async def admit(
        self, credential: Credential | None, permission: str, connection: HTTPConnection
    ) -> Identity:
        """`identify`, then `permit`: one action of a transport without request headers."""
        identity = await self.identify(credential, connection)
        await self.permit(identity, permission)
        return identity
