"""Caching: results of workflows that opt in (keyed by workflow version, code and canonical
input, with a TTL), and the catalog with its ETag."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import BaseModel

from nanobrain import Context, workflow
from nanobrain.core.decorators import spec_of
from nanobrain.runtime.cache.base import result_key
from nanobrain.runtime.cache.memory import MemoryResultCache
from tests.support.sse import collect
from tests.test_api_workflows import execute


def test_a_cached_workflow_answers_the_same_input_from_the_cache(client: httpx.Client) -> None:
    first = execute(client, "lucky", {"seed": 5}, wait=True).json()
    again = execute(client, "lucky", {"seed": 5}, wait=True).json()
    assert first["status"] == again["status"] == "succeeded"
    assert again["output"] == first["output"] and again["execution_id"] != first["execution_id"]
    events = collect(client, f"/workflows/{again['execution_id']}/events")
    assert [e.event for e in events] == ["status", "status", "result", "status"]
    assert events[2].data["data"]["cached"] is True
    other = execute(client, "lucky", {"seed": 6}, wait=True).json()
    assert other["output"] != first["output"]
    # The canonical input: defaults filled in, so {} and {"seed": 0} are one entry.
    assert (
        execute(client, "lucky", {}, wait=True).json()["output"]
        == (execute(client, "lucky", {"seed": 0}, wait=True).json()["output"])
    )


def test_workflows_that_do_not_opt_in_always_run(client: httpx.Client) -> None:
    runs = [execute(client, "steady", {"token": "x", "seconds": 0}, wait=True) for _ in range(2)]
    assert runs[0].json()["output"]["token"] == runs[1].json()["output"]["token"] == "x"
    events = collect(client, f"/workflows/{runs[1].json()['execution_id']}/events")
    assert all("cached" not in e.data["data"] for e in events if e.event == "result")


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


def test_the_catalog_carries_an_etag_and_answers_304_when_unchanged(client: httpx.Client) -> None:
    first = client.get("/workflows")
    etag = first.headers["etag"]
    assert client.get("/workflows").content == first.content
    unchanged = client.get("/workflows", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert client.get("/workflows", headers={"If-None-Match": '"other"'}).status_code == 200
