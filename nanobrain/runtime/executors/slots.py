"""The local executor's slots: a fair scheduler keyed by principal.

At most `size` executions hold a slot at once, and a principal (a user) at most its role's limit
of them. An execution that cannot take one waits in its principal's line; principals with waiters
form a rotation, and each freed slot goes to the first principal in it whose limit allows one more
(its oldest waiter), which then goes to the back. So one user's backlog never holds back another
user's work, each user's executions start in the order they came, and different users' queued
executions start in turn.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Mapping

UNLIMITED = sys.maxsize


class _Waiter:
    __slots__ = ("future", "role", "since")

    def __init__(self, future: asyncio.Future[None], role: str, since: float):
        self.future = future
        self.role = role
        self.since = since  # loop time it started waiting


class Slots:
    """Taking a free slot is a few counter and dict checks (`asyncio.Semaphore` spends five Python
    calls per use on a no-op execution's path); waiting is for when there is none to take."""

    def __init__(self, size: int, limits: Mapping[str, int] | None = None):
        self.size = size
        self.free = size
        self.waiting = 0
        self._limits = dict(limits or {})  # role -> slots one principal may hold; absent: any
        self._held: dict[str, int] = {}  # principal -> slots it holds (absent: none)
        self._lines: dict[str, deque[_Waiter]] = {}  # in rotation order: principals that wait

    def try_take(self, principal: str, role: str) -> bool:
        """Take a slot now if one is free, the principal's limit allows it and none of its own
        executions waits before this one."""
        if self.free and principal not in self._lines:
            held = self._held.get(principal, 0)
            if held < self._limits.get(role, UNLIMITED):
                self.free -= 1
                self._held[principal] = held + 1
                return True
        return False

    async def take(self, principal: str, role: str) -> None:
        """Wait for a slot (in the principal's line, served in turn). A waiter cancelled at any
        moment loses no slot: one handed to it just as it was cancelled goes to the next."""
        if self.try_take(principal, role):
            return
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), role, loop.time())
        line = self._lines.get(principal)
        if line is None:
            line = self._lines[principal] = deque()
        line.append(waiter)
        self.waiting += 1
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.give(principal)  # handed a slot just as the task was cancelled: pass it on
            else:
                self._leave(principal, waiter)
            raise

    def give(self, principal: str) -> None:
        """Return a slot the principal held; free slots go to the waiting principals in turn."""
        held = self._held[principal] - 1
        if held:
            self._held[principal] = held
        else:
            del self._held[principal]
        self.free += 1
        if self._lines:
            self._hand_out()

    def oldest_wait(self) -> float:
        """Seconds the longest-waiting execution has waited (0 with none waiting)."""
        if not self._lines:
            return 0.0
        oldest = min(line[0].since for line in self._lines.values() if line)
        return max(0.0, asyncio.get_running_loop().time() - oldest)

    def _hand_out(self) -> None:
        while self.free:
            chosen = self._next_in_turn()
            if chosen is None:
                return  # every waiting principal holds its limit
            line = self._lines.pop(chosen)
            waiter = line.popleft()
            self.waiting -= 1
            if line:
                self._lines[chosen] = line  # to the back of the rotation
            self.free -= 1
            self._held[chosen] = self._held.get(chosen, 0) + 1
            waiter.future.set_result(None)

    def _next_in_turn(self) -> str | None:
        """The first principal in the rotation that may hold one more slot. Waiters cancelled
        but not yet resumed (their task removes them) are dropped on the way."""
        for principal, line in list(self._lines.items()):
            while line and line[0].future.done():
                line.popleft()
                self.waiting -= 1
            if not line:
                del self._lines[principal]
            elif self._held.get(principal, 0) < self._limits.get(line[0].role, UNLIMITED):
                return principal
        return None

    def _leave(self, principal: str, waiter: _Waiter) -> None:
        line = self._lines.get(principal)
        if line is None or waiter not in line:
            return  # already dropped by `_next_in_turn`
        line.remove(waiter)
        self.waiting -= 1
        if not line:
            del self._lines[principal]
