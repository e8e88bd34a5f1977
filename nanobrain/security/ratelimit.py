"""Rate limits with the `limits` library: per caller and route group, in memory or in Redis.

A caller is `user:<id>`, `key:<id>` (an API key) or `addr:<ip>` (anonymous). The route group is
the permission a route declares (`read`, `execute`, `write`, `admin`), or `auth` for sign-in and
for failed authentication.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.storage import storage_from_string

from nanobrain.config import LoginThrottleConfig, RateLimitConfig


def create_storage(redis_url: str | None, timeout: float = 5.0) -> Storage:
    """Redis when the deployment has one (limits shared by every replica), else memory.
    `timeout` bounds connecting and each command, so a Redis that is out fails the request
    (503) instead of holding it."""
    if redis_url:
        scheme, _, rest = redis_url.partition("://")
        storage = storage_from_string(
            f"async+{scheme}://{rest}",
            implementation="redispy",
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        assert isinstance(storage, Storage)
        return storage
    return MemoryStorage()


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window resets

    def headers(self) -> dict[str, str]:
        reset = max(0, math.ceil(self.reset_at - time.time()))
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, reset))
        return headers


class RateLimiter:
    def __init__(self, config: RateLimitConfig, storage: Storage):
        self.items: dict[str, RateLimitItem] = {
            group: parse(spec) for group, spec in config.groups.items()
        }
        self._limiter = FixedWindowRateLimiter(storage)

    async def hit(self, group: str, caller: str) -> Verdict | None:
        """Count one request; None when the group has no limit."""
        item = self.items.get(group)
        if item is None:
            return None
        allowed = await self._limiter.hit(item, group, caller)
        stats = await self._limiter.get_window_stats(item, group, caller)
        return Verdict(allowed, item.amount, stats.remaining, stats.reset_time)


class LoginThrottle:
    """Failed sign-ins per (username, client address), over a minute and an hour.

    Past either limit that pair waits for its window to pass, whatever the password, so guessing
    is slow; the wait is bounded by the window and a success clears the count, so nobody is
    locked out for good, and an attacker's failures never hold back the user at another address.
    """

    def __init__(self, config: LoginThrottleConfig, storage: Storage):
        self.items = [parse(f"{config.per_minute}/minute"), parse(f"{config.per_hour}/hour")]
        self._limiter = MovingWindowRateLimiter(storage)

    async def wait_seconds(self, username: str, address: str) -> int:
        """How long this pair must wait before its next attempt (0: go ahead)."""
        wait = 0
        for item in self.items:
            if not await self._limiter.test(item, "login", username.lower(), address):
                stats = await self._limiter.get_window_stats(
                    item, "login", username.lower(), address
                )
                wait = max(wait, math.ceil(stats.reset_time - time.time()), 1)
        return wait

    async def failed(self, username: str, address: str) -> None:
        for item in self.items:
            await self._limiter.hit(item, "login", username.lower(), address)

    async def succeeded(self, username: str, address: str) -> None:
        for item in self.items:
            await self._limiter.clear(item, "login", username.lower(), address)
