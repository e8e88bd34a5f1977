"""`runtime.max_concurrency` bounds how many executions run at once in the server process: the
rest wait `queued`, in order, a `wait=true` request waits its turn too, and cancelling a waiting
execution frees nothing it did not hold."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.api import execute, wait_for
from tests.support.server import Server

SLOW = {"steps": 100, "step_seconds": 0.05}  # 5 s unless cancelled


@pytest.fixture
def two_slots(tmp_path: Path) -> Iterator[httpx.Client]:
    server = Server(tmp_path, env={"NANOBRAIN_RUNTIME__MAX_CONCURRENCY": "2"}).start()
    try:
        with httpx.Client(base_url=server.api, timeout=30) as client:
            yield client
    finally:
        server.kill()


def _statuses(client: httpx.Client, ids: list[str]) -> list[str]:
    return [client.get(f"/workflows/{i}/status").json()["status"] for i in ids]


def test_executions_past_the_bound_wait_queued_in_order(two_slots: httpx.Client) -> None:
    client = two_slots
    ids = [execute(client, "simulation", SLOW).json()["execution_id"] for _ in range(4)]
    for execution_id in ids[:2]:
        wait_for(client, execution_id, {"running"})
    time.sleep(0.3)  # the behaviour: nothing past the bound starts meanwhile
    assert _statuses(client, ids) == ["running", "running", "queued", "queued"]

    # Cancelling a waiting one ends it without a slot; the other still waits.
    assert client.delete(f"/workflows/{ids[3]}/cancel").status_code == 202
    assert wait_for(client, ids[3], {"cancelled"}, timeout=5)["started_at"] is None
    assert _statuses(client, ids[:3]) == ["running", "running", "queued"]

    # A freed slot goes to the first in line.
    client.delete(f"/workflows/{ids[0]}/cancel")
    wait_for(client, ids[0], {"cancelled"}, timeout=5)
    wait_for(client, ids[2], {"running"}, timeout=5)

    # A request that waits for its outcome runs only when a slot frees, then finishes.
    echo = {"workflow": "echo", "input": {"message": "x"}, "wait": True}
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=client.base_url) as other:
        pending = pool.submit(lambda: other.post("/workflows/execute", json=echo, timeout=30))
        time.sleep(0.5)  # the behaviour: it does not run while both slots are taken
        assert not pending.done(), "ran although both slots were taken"
        client.delete(f"/workflows/{ids[1]}/cancel")
        waited = pending.result(timeout=10).json()
    assert waited["status"] == "succeeded" and waited["output"] == {"message": "x"}
    client.delete(f"/workflows/{ids[2]}/cancel")
    assert wait_for(client, ids[2], {"cancelled"}, timeout=5)["status"] == "cancelled"
