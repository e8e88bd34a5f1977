"""The in-process event bus keeps memory bounded: finished streams go after their retention, and
past `max_streams` the oldest finished ones go first; a live stream is never dropped."""

from __future__ import annotations

import asyncio

from nanobrain.runtime.events.memory import EXPIRE_EVERY, MemoryEventBus


def _finish(bus: MemoryEventBus, stream: str) -> None:
    bus.publish(stream, "status", {"status": "running"})
    bus.publish(stream, "status", {"status": "succeeded"}, final=True)


def test_past_the_cap_the_oldest_finished_streams_go_first() -> None:
    async def scenario() -> None:
        cap = 10
        bus = MemoryEventBus(max_streams=cap, retention_seconds=3600)
        bus.publish("live", "status", {"status": "running"})  # never finishes
        for index in range(3 * cap):
            _finish(bus, f"done-{index}")
            assert len(bus._streams) <= cap + 1
        assert await bus.known("live")
        kept = [f"done-{index}" for index in range(3 * cap) if await bus.known(f"done-{index}")]
        assert kept == [f"done-{index}" for index in range(2 * cap + 1, 3 * cap)]

    asyncio.run(scenario())


def test_finished_streams_go_after_their_retention() -> None:
    async def scenario() -> None:
        bus = MemoryEventBus(retention_seconds=0.05)
        _finish(bus, "old")
        bus.publish("running", "status", {"status": "running"})
        await asyncio.sleep(0.1)
        for index in range(EXPIRE_EVERY):  # new streams are when the bus looks
            bus.publish(f"new-{index}", "status", {"status": "queued"})
        assert not await bus.known("old")
        assert await bus.known("running")
        assert [event.seq async for event in bus.subscribe("old")] == []

    asyncio.run(scenario())
