"""Caching over a real server: results of workflows that opt in (the keys and the TTL are in
tests/unit/runtime/test_cache.py), and the catalog with its ETag."""

from __future__ import annotations

import httpx

from tests.support.api import execute
from tests.support.sse import collect


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


def test_the_catalog_carries_an_etag_and_answers_304_when_unchanged(client: httpx.Client) -> None:
    first = client.get("/workflows")
    etag = first.headers["etag"]
    assert client.get("/workflows").content == first.content
    unchanged = client.get("/workflows", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert client.get("/workflows", headers={"If-None-Match": '"other"'}).status_code == 200
