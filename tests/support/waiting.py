"""Polling instead of fixed sleeps: wait for a state, up to a bound, and fail naming it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10, interval: float = 0.02, what: str = ""
) -> T:
    """Call `predicate` until it returns something truthy, and return that; raise AssertionError
    after `timeout` seconds. The predicate is always tried once more at the deadline, so a slow
    machine fails only when the state really never came."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached within {timeout} s: {what or predicate!r}")
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10,  # noqa: ASYNC109 - a polling bound that names what never came
    interval: float = 0.01,
    what: str = "",
) -> T:
    """`wait_until` inside an event loop: sleeps with `asyncio.sleep`, and awaits the
    predicate's result when it is awaitable."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached within {timeout} s: {what or predicate!r}")
        await asyncio.sleep(interval)
