"""The result cache's keys (workflow version, code and canonical input) and its TTL, in-process.
Over a real server: tests/integration/api/test_cache.py."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from nanobrain import Context, workflow
from nanobrain.core.decorators import spec_of
from nanobrain.runtime.cache.base import result_key
from nanobrain.runtime.cache.memory import MemoryResultCache


class Out(BaseModel):
    value: int


class In(BaseModel):
    n: int = 1


def _versions() -> list[object]:
    async def v1(ctx: Context, n: int = 1) -> Out:
        return Out(value=n)

    async def v2(ctx: Context, n: int = 1) -> Out:
        return Out(value=n * 2)  # the code changed

    return [
        spec_of(workflow(name="double", version="1")(v1)),
        spec_of(workflow(name="double", version="1")(v2)),
        spec_of(workflow(name="double", version="2")(v1)),
    ]


def test_a_changed_workflow_never_meets_its_old_results() -> None:
    old, new_code, new_version = _versions()
    same = In(n=3)
    keys = {result_key(spec, "alice", same) for spec in (old, new_code, new_version)}  # type: ignore[arg-type]
    assert len(keys) == 3
    assert result_key(old, "alice", same) == result_key(old, "alice", In(n=3))  # type: ignore[arg-type]
    assert result_key(old, "alice", same) != result_key(old, "bob", same)  # type: ignore[arg-type]


def test_entries_expire_after_their_ttl() -> None:
    async def scenario() -> None:
        cache = MemoryResultCache(default_ttl=300)
        await cache.set("k", {"value": 1}, ttl=0.2)
        assert await cache.get("k") == (True, {"value": 1})
        await asyncio.sleep(0.25)
        assert await cache.get("k") == (False, None)

    asyncio.run(scenario())
