"""Per-execution time limits, enforced by one periodic sweep instead of a loop timer each.

A loop timer per execution (`asyncio.timeout`) costs more than the rest of a no-op execution's
scheduling (the README's design notes give the figures). Time limits are seconds to hours, so
one sweep every `resolution` seconds over the executions that are running is exact enough, and a
limit costs two dict operations.
"""

from __future__ import annotations

import asyncio


class Deadline:
    """A time limit on the body of the task that made it (`Deadlines.limit`): `arm()` before the
    body, `disarm()` after it, however it ended. When the time is up the task is cancelled, and
    `disarm` says so, for the caller to report a timeout; a cancel from elsewhere stays a cancel,
    as with `asyncio.timeout`. No context manager: around the hot path, that would cost two
    coroutines per execution."""

    __slots__ = ("_cancelling", "_deadlines", "expired", "task", "when")

    def __init__(self, deadlines: Deadlines, when: float, task: asyncio.Task[object]):
        self._deadlines = deadlines
        self.when = when
        self.task = task
        self.expired = False
        self._cancelling = 0

    def arm(self) -> None:
        self._cancelling = self.task.cancelling()
        self._deadlines._add(self)

    def disarm(self, exc_type: type[BaseException] | None) -> bool:
        """End the limit as the body ended (with `exc_type`, or None); True when it was this
        deadline that stopped the body, whose CancelledError then means a timeout."""
        self._deadlines._active.pop(self, None)
        # Take back the cancel this deadline made, whatever the body turned it into.
        if self.expired:
            others = self.task.uncancel()  # cancels of the task not made by this deadline
            return exc_type is asyncio.CancelledError and others <= self._cancelling
        return False


class Deadlines:
    def __init__(self, resolution: float = 0.05):
        self.resolution = resolution
        self._active: dict[Deadline, None] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Set every limit on `loop` from now on. Looking the running loop up costs a getpid()
        system call (CPython checks for a fork), and a no-op execution would make two."""
        self._loop = loop

    def limit(self, seconds: float) -> Deadline:
        loop = self._loop or asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        return Deadline(self, loop.time() + seconds, task)

    def _add(self, deadline: Deadline) -> None:
        self._active[deadline] = None
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(), name="deadline-sweeper"
            )

    async def _sweep(self) -> None:
        """Runs while limits are active; a later limit starts it again."""
        loop = asyncio.get_running_loop()
        try:
            while self._active:
                await asyncio.sleep(self.resolution)
                now = loop.time()
                for deadline in [d for d in self._active if d.when <= now and not d.expired]:
                    deadline.expired = True
                    deadline.task.cancel()
        finally:
            self._sweeper = None
