"""Accounts as every check sees them: the user's current role and state, cached briefly.

Each request (and each WebSocket message, each agent tool call) asks who the account is now, so
a demotion, a disabled account or a deleted one takes effect on the next action everywhere. The
answer is cached for `ttl` seconds: a change made in this process evicts the entry at once,
other replicas and workers notice when their entry expires.
"""

from __future__ import annotations

import time

from nanobrain.core.user import User
from nanobrain.security.policy import lower_role, user_with_role
from nanobrain.store.users import UserRepository

MAX_CACHED = 50_000


class AccountGone(Exception):
    """The account is disabled or no longer exists."""


class UserDirectory:
    def __init__(self, users: UserRepository, ttl: float):
        self.users = users
        self.ttl = ttl
        self._cache: dict[str, tuple[User | None, float]] = {}

    async def current(self, user_id: str) -> User:
        """The account as it stands; raises `AccountGone` when disabled or deleted."""
        now = time.time()
        cached = self._cache.get(user_id)
        if cached is not None and cached[1] > now:
            user = cached[0]
        else:
            record = await self.users.get(user_id)
            user = (
                user_with_role(record.id, record.username, record.role)
                if record is not None and not record.disabled
                else None
            )
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[user_id] = (user, now + self.ttl)
        if user is None:
            raise AccountGone("the account is disabled or no longer exists")
        return user

    async def standing(self, user: User) -> User:
        """`user` as it may act now: never more than the account's current role, nor more than
        `user` had (an API key's role, or the role a running job was started with)."""
        account = await self.current(user.id)
        role = lower_role(user.role, account.role)
        return user if role == user.role else user_with_role(user.id, user.username, role)

    def forget(self, user_id: str) -> None:
        self._cache.pop(user_id, None)
