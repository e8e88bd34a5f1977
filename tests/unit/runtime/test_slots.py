"""The local executor's fair scheduler (`nanobrain.runtime.executors.slots.Slots`), in process with
real asyncio: never more holders than slots nor more per principal than its role's limit, each
principal's waiters served in order and different principals' in turn, and a waiter cancelled at
any moment loses no slot."""

from __future__ import annotations

import asyncio

import pytest

from nanobrain.runtime.executors.slots import Slots


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_free_slots_are_taken_at_once_and_the_rest_wait_in_order() -> None:
    async def scenario() -> None:
        slots = Slots(2)
        assert slots.try_take("a", "user") and slots.try_take("a", "user")
        assert not slots.try_take("a", "user")
        order: list[int] = []

        async def waiter(number: int) -> None:
            await slots.take("a", "user")
            order.append(number)

        tasks = [asyncio.create_task(waiter(number)) for number in range(3)]
        await _settle()
        assert order == [] and slots.free == 0 and slots.waiting == 3
        slots.give("a")
        await _settle()
        assert order == [0]
        slots.give("a")
        slots.give("a")
        await _settle()
        assert order == [0, 1, 2] and slots.free == 0 and slots.waiting == 0
        slots.give("a")
        slots.give("a")
        assert slots.free == 2  # the two holders left: every slot came back
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_a_principal_past_its_limit_waits_while_others_take_free_slots() -> None:
    async def scenario() -> None:
        slots = Slots(4, {"user": 2})
        assert slots.try_take("hog", "user") and slots.try_take("hog", "user")
        assert not slots.try_take("hog", "user")  # at its share, with two slots free
        third = asyncio.create_task(slots.take("hog", "user"))
        await _settle()
        assert not third.done() and slots.free == 2
        assert slots.try_take("other", "user")  # another user is not held back
        assert slots.try_take("admin", "admin")  # a role without a limit
        assert slots.free == 0
        slots.give("other")  # a free slot, but the waiting principal is still at its share
        await _settle()
        assert not third.done() and slots.free == 1
        slots.give("hog")
        await asyncio.wait_for(third, 1)
        assert slots.free == 1 and slots.waiting == 0

    asyncio.run(scenario())


def test_waiting_principals_start_in_turn_each_in_its_own_order() -> None:
    async def scenario() -> None:
        slots = Slots(1)
        assert slots.try_take("holder", "user")
        started: list[str] = []

        async def run(principal: str, number: int) -> None:
            await slots.take(principal, "user")
            started.append(f"{principal}{number}")
            await asyncio.sleep(0)
            slots.give(principal)

        # `a` queues four before anyone else, then `b` three and `c` two.
        tasks = [asyncio.create_task(run("a", n)) for n in range(4)]
        await _settle()
        tasks += [asyncio.create_task(run("b", n)) for n in range(3)]
        await _settle()
        tasks += [asyncio.create_task(run("c", n)) for n in range(2)]
        await _settle()
        slots.give("holder")
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        assert started == ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "a3"]
        assert slots.free == 1 and slots.waiting == 0

    asyncio.run(scenario())


def test_a_new_arrival_never_overtakes_its_own_principals_waiters() -> None:
    async def scenario() -> None:
        slots = Slots(2, {"user": 1})
        assert slots.try_take("a", "user")
        first = asyncio.create_task(slots.take("a", "user"))
        await _settle()
        slots.give("a")  # the slot goes to the waiter, not to a newcomer of the same principal
        assert not slots.try_take("a", "user")
        await asyncio.wait_for(first, 1)
        slots.give("a")
        assert slots.try_take("a", "user")

    asyncio.run(scenario())


@pytest.mark.parametrize("handed_first", [False, True], ids=["still-waiting", "just-handed"])
def test_a_cancelled_waiter_leaves_no_slot_behind(handed_first: bool) -> None:
    async def scenario() -> None:
        slots = Slots(1)
        assert slots.try_take("a", "user")
        cancelled = asyncio.create_task(slots.take("b", "user"))
        await _settle()
        if handed_first:
            slots.give("a")  # the slot goes to the waiter, which is cancelled before it runs
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        if not handed_first:
            slots.give("a")
        assert slots.waiting == 0
        # The slot is free again: taken at once, and nobody stale blocks the next waiter.
        assert slots.try_take("b", "user")
        follower = asyncio.create_task(slots.take("c", "user"))
        await _settle()
        assert not follower.done()
        slots.give("b")
        await asyncio.wait_for(follower, 1)
        slots.give("c")
        assert slots.free == 1

    asyncio.run(scenario())


def test_a_slot_handed_to_a_cancelled_waiter_goes_to_the_next_in_turn() -> None:
    """Cancelled just as a slot reached it, a waiter passes the slot on: to the next principal in
    the rotation, whose share allows it, and never beyond any limit."""

    async def scenario() -> None:
        slots = Slots(2, {"user": 1})
        assert slots.try_take("a", "user") and slots.try_take("b", "user")
        unlucky = asyncio.create_task(slots.take("a", "user"))
        waiting_b = asyncio.create_task(slots.take("b", "user"))
        waiting_c = asyncio.create_task(slots.take("c", "user"))
        await _settle()
        slots.give("a")  # a's own waiter is first in turn
        unlucky.cancel()
        with pytest.raises(asyncio.CancelledError):
            await unlucky
        # `b` still holds its one slot: the freed slot skips it and goes to `c`.
        await asyncio.wait_for(waiting_c, 1)
        assert not waiting_b.done() and slots.free == 0
        slots.give("b")
        await asyncio.wait_for(waiting_b, 1)
        slots.give("b")
        slots.give("c")
        assert slots.free == 2 and slots.waiting == 0

    asyncio.run(scenario())


def test_waiters_cancelled_in_the_middle_of_a_line_are_skipped() -> None:
    async def scenario() -> None:
        slots = Slots(1)
        assert slots.try_take("x", "user")
        tasks = [asyncio.create_task(slots.take("a", "user")) for _ in range(3)]
        await _settle()
        tasks[0].cancel()
        tasks[1].cancel()
        slots.give("x")  # before the cancelled tasks ran: their waiters are dropped on the way
        await asyncio.wait_for(tasks[2], 1)
        for task in tasks[:2]:
            with pytest.raises(asyncio.CancelledError):
                await task
        assert slots.waiting == 0 and slots.free == 0
        slots.give("a")
        assert slots.free == 1

    asyncio.run(scenario())


def test_the_oldest_wait_is_reported() -> None:
    async def scenario() -> None:
        slots = Slots(1)
        assert slots.oldest_wait() == 0.0
        assert slots.try_take("a", "user")
        waiter = asyncio.create_task(slots.take("b", "user"))
        await asyncio.sleep(0.05)
        assert 0.04 <= slots.oldest_wait() < 1
        slots.give("a")
        await waiter
        assert slots.oldest_wait() == 0.0

    asyncio.run(scenario())
