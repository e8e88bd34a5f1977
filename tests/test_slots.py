"""The local executor's concurrency slots (`nanobrain.runtime.executors.local.Slots`): never more
holders than slots, waiters served in order, and a waiter cancelled at any moment loses no slot."""

from __future__ import annotations

import asyncio

import pytest

from nanobrain.runtime.executors.local import Slots


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_free_slots_are_taken_at_once_and_the_rest_wait_in_order() -> None:
    async def scenario() -> None:
        slots = Slots(2)
        assert slots.try_take() and slots.try_take()
        assert not slots.try_take()
        order: list[int] = []

        async def waiter(number: int) -> None:
            await slots.take()
            order.append(number)

        tasks = [asyncio.create_task(waiter(number)) for number in range(3)]
        await _settle()
        assert order == [] and slots.free == 0
        slots.give()
        await _settle()
        assert order == [0]
        slots.give()
        slots.give()
        await _settle()
        assert order == [0, 1, 2] and slots.free == 0
        slots.give()
        slots.give()
        assert slots.free == 2  # the two holders left: every slot came back
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


@pytest.mark.parametrize("handed_first", [False, True], ids=["still-waiting", "just-handed"])
def test_a_cancelled_waiter_leaves_no_slot_behind(handed_first: bool) -> None:
    async def scenario() -> None:
        slots = Slots(1)
        assert slots.try_take()
        cancelled = asyncio.create_task(slots.take())
        await _settle()
        if handed_first:
            slots.give()  # the slot goes to the waiter, which is cancelled before it runs
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        if not handed_first:
            slots.give()
        # The slot is free again: taken at once, and nobody stale blocks the next waiter.
        assert slots.try_take()
        follower = asyncio.create_task(slots.take())
        await _settle()
        assert not follower.done()
        slots.give()
        await asyncio.wait_for(follower, 1)
        slots.give()
        assert slots.free == 1

    asyncio.run(scenario())
