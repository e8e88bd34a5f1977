"""Durability across restarts: finished executions survive, interrupted ones end `failed`."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import httpx

from tests.support.api import wait_for
from tests.support.server import Server
from tests.support.sse import collect
from tests.support.waiting import wait_until


def stored_status(server: Server, execution_id: str) -> str | None:
    """The execution's status as the database holds it (not the server's cache)."""
    database = server.data_dir / "nanobrain.db"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
        row = db.execute("SELECT status FROM executions WHERE id = ?", (execution_id,)).fetchone()
    return None if row is None else str(row[0])


def test_executions_survive_a_graceful_restart(fresh_server: Server) -> None:
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        done = client.post(
            "/workflows/execute",
            json={"workflow": "text-stats", "input": {"text": "to be or not to be"}, "wait": True},
        ).json()
        before_events = collect(client, f"/workflows/{done['execution_id']}/events")
    assert fresh_server.stop()

    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        status = client.get(f"/workflows/{done['execution_id']}/status").json()
        assert status["status"] == "succeeded"
        results = client.get(f"/workflows/{done['execution_id']}/results").json()
        assert results["output"] == done["output"]
        history = [item["execution_id"] for item in client.get("/executions").json()["items"]]
        assert done["execution_id"] in history
        after_events = collect(client, f"/workflows/{done['execution_id']}/events")
        # The closing events are rebuilt from the record with their original ids.
        assert [(e.id, e.event) for e in after_events] == [
            (e.id, e.event) for e in before_events[-2:]
        ]
        assert after_events[-2].data["data"]["output"] == done["output"]
        resumed = collect(
            client,
            f"/workflows/{done['execution_id']}/events",
            headers={"Last-Event-ID": before_events[-2].id or ""},
        )
        assert [e.id for e in resumed] == [before_events[-1].id]


def test_a_graceful_stop_fails_running_executions_with_a_reason(fresh_server: Server) -> None:
    fresh_server.env["NANOBRAIN_RUNTIME__SHUTDOWN_GRACE_SECONDS"] = "0.2"
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        execution_id = client.post(
            "/workflows/execute",
            json={"workflow": "simulation", "input": {"steps": 100, "step_seconds": 0.1}},
        ).json()["execution_id"]
        wait_for(client, execution_id, {"running"})
    assert fresh_server.stop()
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        status = client.get(f"/workflows/{execution_id}/status").json()
    assert status["status"] == "failed"
    assert status["error"]["type"] == "interrupted"


def test_an_execution_interrupted_by_a_crash_is_failed_at_start_up(fresh_server: Server) -> None:
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        execution_id = client.post(
            "/workflows/execute",
            json={"workflow": "simulation", "input": {"steps": 100, "step_seconds": 0.1}},
        ).json()["execution_id"]
        wait_for(client, execution_id, {"running"})
        assert wait_for(client, execution_id, {"running"})["progress"]["fraction"] is not None
        # The running state is written behind (runtime.write_behind_seconds): wait for it.
        wait_until(lambda: stored_status(fresh_server, execution_id) == "running", 5)
    fresh_server.kill()

    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        status = client.get(f"/workflows/{execution_id}/status").json()
        assert status["status"] == "failed"
        assert status["error"]["type"] == "interrupted"
        assert "stopped while this execution was running" in status["error"]["message"]
        assert status["finished_at"] is not None
        events = collect(client, f"/workflows/{execution_id}/events")
        assert events[-1].data["data"]["status"] == "failed"
        assert [e.event for e in events] == ["error", "status"]
        assert int(events[0].id or 0) > 2  # numbered after the events seen before the crash
    assert "marked 1 execution(s) failed" in fresh_server.log()
