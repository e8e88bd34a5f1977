"""Per-execution time limits by one periodic sweep (`nanobrain.runtime.deadlines`): they must
behave like `asyncio.timeout` (TimeoutError on expiry, outside cancels pass through, nesting)
within the sweep's resolution, on both event loops the server runs on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import pytest
import uvloop

from nanobrain.runtime.deadlines import Deadline, Deadlines

T = TypeVar("T")
RESOLUTION = 0.04
LIMIT = 0.12
# uvloop's clock counts whole milliseconds: `now - start` can round to just under the limit.
CLOCK = 0.001
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, T]], T]:
    def runner(coroutine: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=LOOPS[request.param]) as asyncio_runner:
            return asyncio_runner.run(coroutine)

    return runner


@contextlib.asynccontextmanager
async def enforced(deadline: Deadline) -> AsyncIterator[Deadline]:
    """The runner's use of a deadline around a body: `arm`, then `disarm`; TimeoutError when it
    was the deadline that stopped the body."""
    deadline.arm()
    try:
        yield deadline
    except BaseException as exc:
        if deadline.disarm(type(exc)):
            raise TimeoutError from exc
        raise
    deadline.disarm(None)


def current_task() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    assert task is not None
    return task


@pytest.mark.parametrize("bound", [False, True], ids=["looked-up", "bound"])
def test_a_body_past_its_limit_raises_timeout_error_in_time(
    run: Callable[..., Any], bound: bool
) -> None:
    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)
        loop = asyncio.get_running_loop()
        if bound:  # as the server does: the loop is not looked up for each limit
            deadlines.bind(loop)
        start = loop.time()
        deadline = deadlines.limit(LIMIT)
        assert deadline.task is current_task()
        with pytest.raises(TimeoutError):
            async with enforced(deadline):
                await asyncio.sleep(10)
        elapsed = loop.time() - start
        assert LIMIT - CLOCK <= elapsed <= LIMIT + 2 * RESOLUTION, elapsed
        assert deadline.expired
        assert current_task().cancelling() == 0  # the deadline's own cancel was taken back
        assert not deadlines._active
        await asyncio.sleep(2 * RESOLUTION)  # the task goes on: no cancel left pending
        assert deadlines._sweeper is None

    run(scenario())


def test_a_body_in_time_returns_and_leaves_nothing_behind(run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)
        async with enforced(deadlines.limit(LIMIT)) as deadline:
            await asyncio.sleep(RESOLUTION / 2)
            sweeper = deadlines._sweeper
            assert sweeper is not None and not sweeper.done()
            assert deadline in deadlines._active
            result = "done"
        assert result == "done"
        assert not deadline.expired
        assert not deadlines._active
        await asyncio.wait_for(asyncio.shield(sweeper), timeout=5 * RESOLUTION)
        assert sweeper.done() and not sweeper.cancelled()
        assert deadlines._sweeper is None
        # Past the limit it left: nothing cancels this task.
        await asyncio.sleep(LIMIT + 2 * RESOLUTION)
        assert current_task().cancelling() == 0

        # A later limit starts the sweeper again, and it still enforces.
        with pytest.raises(TimeoutError):
            async with enforced(deadlines.limit(LIMIT)):
                assert deadlines._sweeper is not None and deadlines._sweeper is not sweeper
                await asyncio.sleep(10)

    run(scenario())


def test_a_timeout_error_of_the_body_itself_passes_unchanged(run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)
        deadline = deadlines.limit(10)
        with pytest.raises(TimeoutError, match="the body's own"):
            async with enforced(deadline):
                await asyncio.sleep(0)
                raise TimeoutError("the body's own")
        assert not deadline.expired
        assert not deadlines._active

    run(scenario())


def test_an_outside_cancel_passes_through_as_cancelled_error(run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)
        entered = asyncio.Event()
        seen: list[type[BaseException]] = []

        async def body() -> None:
            try:
                async with enforced(deadlines.limit(10)):
                    entered.set()
                    await asyncio.sleep(10)
            except BaseException as exc:
                seen.append(type(exc))
                raise

        task = asyncio.create_task(body())
        await entered.wait()
        await asyncio.sleep(RESOLUTION * 1.5)  # at least one sweep with the limit active
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        assert seen == [asyncio.CancelledError]
        assert not deadlines._active

    run(scenario())


def test_an_outside_cancel_of_an_expired_limit_stays_a_cancel(run: Callable[..., Any]) -> None:
    """Expiry and an outside cancel together: the outside cancel wins, as with asyncio.timeout."""

    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)

        async def body() -> None:
            async with enforced(deadlines.limit(LIMIT)) as deadline:
                try:
                    await asyncio.sleep(10)
                finally:
                    # The deadline's cancel arrived; cancel again from outside during cleanup.
                    assert deadline.expired
                    current_task().cancel()
                    await asyncio.sleep(0)

        task = asyncio.create_task(body())
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    run(scenario())


def test_nested_limits_the_inner_expires_and_the_outer_goes_on(run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)
        loop = asyncio.get_running_loop()
        after_inner = False
        async with enforced(deadlines.limit(LIMIT * 10)) as outer:
            start = loop.time()
            with pytest.raises(TimeoutError):
                async with enforced(deadlines.limit(LIMIT)) as inner:
                    await asyncio.sleep(10)
            elapsed = loop.time() - start
            assert LIMIT - CLOCK <= elapsed <= LIMIT + 2 * RESOLUTION, elapsed
            assert inner.expired and not outer.expired
            assert current_task().cancelling() == 0
            await asyncio.sleep(3 * RESOLUTION)  # the outer body carries on uninterrupted
            after_inner = True
        assert after_inner
        assert not outer.expired
        assert not deadlines._active

    run(scenario())


def test_nested_limits_the_outer_expires_through_the_inner(run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)
        inner_saw: list[type[BaseException]] = []
        with pytest.raises(TimeoutError):
            async with enforced(deadlines.limit(LIMIT)) as outer:
                try:
                    async with enforced(deadlines.limit(LIMIT * 10)) as inner:
                        await asyncio.sleep(10)
                except BaseException as exc:
                    inner_saw.append(type(exc))
                    raise
        assert inner_saw == [asyncio.CancelledError]  # not the inner one's TimeoutError
        assert outer.expired and not inner.expired
        assert current_task().cancelling() == 0
        assert not deadlines._active

    run(scenario())


def test_only_the_task_past_its_limit_is_cancelled(run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        deadlines = Deadlines(resolution=RESOLUTION)

        async def limited(seconds: float, work: float) -> str:
            async with enforced(deadlines.limit(seconds)):
                await asyncio.sleep(work)
            return "finished"

        results = await asyncio.gather(
            limited(LIMIT, 10),
            limited(10, LIMIT + 3 * RESOLUTION),
            limited(LIMIT / 2, 10),
            limited(10, 0),
            return_exceptions=True,
        )
        assert [type(result) for result in results] == [TimeoutError, str, TimeoutError, str]
        assert not deadlines._active

    run(scenario())


def test_a_limit_needs_a_running_task() -> None:
    with pytest.raises(RuntimeError):
        Deadlines().limit(1)
