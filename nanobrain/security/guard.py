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

from collections.abc import Callable, Iterable

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

    async def identify(self, credential: Credential | None, address: Callable[[], str]) -> Identity:
        """The principal presenting `credential` now. With auth off (development) everyone is
        the local admin, counted by address. `address`: the client's, asked only when needed."""
        if not self.enabled:
            return Identity(LOCAL_ADMIN, "addr:" + address())
        try:
            return await self.authenticator.authenticate(credential)
        except AuthenticationFailed as exc:
            await self.count(AUTH_GROUP, "addr:" + address())
            raise _unauthorized(str(exc)) from None

    async def identify_headers(
        self, headers: Iterable[tuple[bytes, bytes]], address: Callable[[], str]
    ) -> Identity:
        """`identify` with the credential a request's headers carry."""
        if not self.enabled:
            return Identity(LOCAL_ADMIN, "addr:" + address())
        try:
            credential = credential_in(headers)
        except AuthenticationFailed as exc:
            await self.count(AUTH_GROUP, "addr:" + address())
            raise _unauthorized(str(exc)) from None
        return await self.identify(credential, address)

    async def recheck(self, identity: Identity) -> Identity:
        """The same principal as it stands now (for a live stream or socket): 401 when its
        credential no longer holds. Counts nothing."""
        if not self.enabled or identity.credential is None:
            return identity
        try:
            return await self.authenticator.authenticate(identity.credential)
        except AuthenticationFailed as exc:
            raise _unauthorized(str(exc)) from None

    async def permit(self, identity: Identity, permission: str) -> Verdict | None:
        """403 unless the principal's role grants `permission`; then count the action in the
        permission's rate-limit group (429 past it). The verdict gives the RateLimit headers."""
        if not identity.user.can(permission):
            raise Refused(403, f"this needs the {permission!r} permission")
        return await self.count(permission, identity.caller)

    async def count(self, group: str, caller: str) -> Verdict | None:
        if self.rate_limiter is None:
            return None
        verdict = await self.rate_limiter.hit(group, caller)
        if verdict is not None and not verdict.allowed:
            raise Refused(429, f"too many {group} requests; slow down", verdict.headers())
        return verdict

    async def admit(
        self, credential: Credential | None, permission: str, address: Callable[[], str]
    ) -> Identity:
        """`identify`, then `permit`: one action of a transport without request headers."""
        identity = await self.identify(credential, address)
        await self.permit(identity, permission)
        return identity
