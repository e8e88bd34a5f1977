"""Which logins were signed out: access tokens die with their login, not only at expiry.

Every access token carries its login's id (`sid`, the refresh-token family). Logging out, or a
refresh token presented twice (a stolen copy), revokes the family in the database; a token whose
family is revoked is refused. Whether a family is revoked is cached for `ttl` seconds, so this
costs a request a dictionary lookup; a revocation made in this process is known here at once,
and every other replica reads it from the shared database within `ttl` seconds.
"""

from __future__ import annotations

import math
import time

from nanobrain.store.refresh_tokens import RefreshTokenRepository

MAX_CACHED = 50_000


class Revocations:
    def __init__(self, refresh_tokens: RefreshTokenRepository, ttl: float):
        self.refresh_tokens = refresh_tokens
        self.ttl = ttl
        self._families: dict[str, tuple[bool, float]] = {}  # family -> (revoked, valid until)

    async def revoked(self, family_id: str) -> bool:
        cached = self._families.get(family_id)
        now = time.time()
        if cached is not None and cached[1] > now:
            return cached[0]
        revoked = await self.refresh_tokens.family_revoked(family_id)
        # A revoked family stays revoked: that answer never needs asking again.
        self._remember(family_id, revoked, math.inf if revoked else now + self.ttl)
        return revoked

    def note(self, family_id: str) -> None:
        """This process just revoked the family."""
        self._remember(family_id, True, math.inf)

    def forget(self) -> None:
        """Ask the database again for every family (after revoking all of a user's)."""
        self._families = {key: value for key, value in self._families.items() if value[0]}

    def _remember(self, family_id: str, revoked: bool, until: float) -> None:
        if len(self._families) >= MAX_CACHED:
            self._families.clear()
        self._families[family_id] = (revoked, until)
