"""Each principal's share of the workers' slots (`nanobrain.runtime.executors.shares`), against real
Redis under a key prefix of this test's own: leases up to the limit, the rest parked in line and
streamed again in order as turns free, duplicates dropped, recovery's hand-back, and a worker's
reconciliation of leases it lost track of."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from nanobrain.core.user import User
from nanobrain.runtime.executors.base import Job
from nanobrain.runtime.executors.shares import Reconciler, Shares, Turn
from tests.support.backing import REDIS

ALICE = User(id="alice", username="alice", role="user")
BOB = User(id="bob", username="bob", role="user")


def job(execution_id: str, user: User = ALICE) -> Job:
    return Job(execution_id, "workflow", "echo", {}, user)


Test = Callable[[Shares, Redis, str], Awaitable[None]]


def scenario(test: Test, limit: int = 2) -> None:
    """Run `test(shares, redis, stream)` with a share of `limit` per `user`."""

    async def run() -> None:
        redis = Redis.from_url(REDIS)
        prefix = f"nbtest_shares_{os.getpid()}_{os.urandom(3).hex()}"
        stream = f"{prefix}:jobs"
        try:
            await test(Shares(redis, prefix, stream, {"user": limit}), redis, stream)
        finally:
            keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()

    asyncio.run(run())


async def streamed(redis: Redis, stream: str) -> list[bytes]:
    """The jobs put back on the stream, in order."""
    return [fields[b"data"] for _, fields in await redis.xrange(stream)]


def test_past_its_share_a_principal_waits_in_line_and_gets_its_turns_in_order() -> None:
    async def test(shares: Shares, redis: Redis, stream: str) -> None:
        assert await shares.acquire(job("a1"), "w1", b"m-a1") is Turn.TAKEN
        assert await shares.acquire(job("a2"), "w2", b"m-a2") is Turn.TAKEN
        for n in (3, 4, 5):
            assert await shares.acquire(job(f"a{n}"), "w1", f"m-a{n}".encode()) is Turn.PARKED
        assert await shares.acquire(job("b1", BOB), "w1", b"m-b1") is Turn.TAKEN  # not held back
        parked = await shares.parked()
        assert parked.count == 3 and parked.oldest_ms is not None
        assert await shares.running() == 3

        assert await shares.release(job("a1"), "w1")
        assert await streamed(redis, stream) == [b"m-a3"]  # a3's turn: back on the stream
        # A newcomer of the same principal does not overtake its own line.
        assert await shares.acquire(job("a6"), "w2", b"m-a6") is Turn.PARKED
        # a3's delivery holds the reserved turn; a second copy of it is dropped.
        assert await shares.acquire(job("a3"), "w2", b"m-a3") is Turn.TAKEN
        assert await shares.acquire(job("a3"), "w1", b"m-a3") is Turn.DUPLICATE
        assert not await shares.release(job("a3"), "w1")  # not w1's lease
        assert await shares.release(job("a2"), "w2")
        assert await shares.release(job("a3"), "w2")
        assert await streamed(redis, stream) == [b"m-a3", b"m-a4", b"m-a5"]
        assert (await shares.parked()).count == 1  # a6, next in line

    scenario(test)


def test_recovery_hands_a_dead_workers_lease_to_the_job_pushed_again_or_releases_it() -> None:
    async def test(shares: Shares, redis: Redis, stream: str) -> None:
        assert await shares.acquire(job("a1"), "dead", b"m-a1") is Turn.TAKEN
        assert await shares.acquire(job("a2"), "dead", b"m-a2") is Turn.TAKEN
        assert await shares.acquire(job("a3"), "live", b"m-a3") is Turn.PARKED
        # What the dead worker ran is known from its leases, job and all.
        leased = await shares.leased_jobs("dead")
        assert sorted((e, u.id, m) for e, u, m in leased) == [
            ("a1", "alice", b"m-a1"),
            ("a2", "alice", b"m-a2"),
        ]
        # a1 runs again elsewhere: back on the stream with its turn, so a3 still waits.
        assert await shares.hand_back(job("a1"), "dead", again=True, message=b"m-a1 again")
        assert await streamed(redis, stream) == [b"m-a1 again"]
        assert await shares.acquire(job("a1"), "live", b"m-a1") is Turn.TAKEN
        # a2 ended with its worker: its turn goes to a3.
        assert not await shares.hand_back(job("a2"), "dead", again=False, message=b"")
        assert await streamed(redis, stream) == [b"m-a1 again", b"m-a3"]
        # Handing back what another worker holds changes nothing (the caller pushes a copy).
        assert not await shares.hand_back(job("a1"), "dead", again=True, message=b"m-a1")
        assert await shares.running() == 1 and await shares.leased_jobs("dead") == []

    scenario(test)


def test_a_worker_releases_leases_of_jobs_it_no_longer_runs_after_two_rounds() -> None:
    async def test(shares: Shares, redis: Redis, stream: str) -> None:
        running = job("a1")
        assert await shares.acquire(running, "w1", b"m-a1") is Turn.TAKEN
        assert await shares.acquire(job("lost"), "w1", b"m-lost") is Turn.TAKEN  # release failed
        assert await shares.acquire(job("a3"), "w1", b"m-a3") is Turn.PARKED
        reconciler = Reconciler(shares, "w1")
        assert await reconciler.run_once([running]) == 0  # one sighting may be a fresh lease
        assert await reconciler.run_once([running]) == 1
        assert await streamed(redis, stream) == [b"m-a3"]  # and the freed turn passed on
        assert set(await shares.held_by("w1")) == {"a1"}

    scenario(test)


def test_a_share_left_free_by_a_raised_limit_passes_on_at_the_next_arrival() -> None:
    """Jobs parked under a limit of 1 wait in line; after a restart with a limit of 3, the next
    arrival joins the line and the free turns go to its head, in order."""

    async def test(shares: Shares, redis: Redis, stream: str) -> None:
        assert await shares.acquire(job("a1"), "w1", b"m-a1") is Turn.TAKEN
        assert await shares.acquire(job("a2"), "w1", b"m-a2") is Turn.PARKED
        raised = Shares(redis, shares.prefix, stream, {"user": 3})
        assert await raised.acquire(job("a3"), "w1", b"m-a3") is Turn.PARKED
        assert await streamed(redis, stream) == [b"m-a2", b"m-a3"]

    scenario(test, limit=1)
