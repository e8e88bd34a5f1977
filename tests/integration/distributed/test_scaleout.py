"""Stateless replicas: nginx in front of two API replicas and two workers on loopback, sharing
this run's PostgreSQL database and Redis prefix. Any replica serves any request and any stream;
a dead replica or worker loses nothing."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import wait_for
from tests.support.backing import backing
from tests.support.cluster import DETECTION, HEARTBEAT, WORKER_TIMEOUT, Cluster
from tests.support.server import Server, Worker
from tests.support.sse import SSE, collect, read_events

# Silence for the timeout, then the next sweep (every heartbeat), plus the settling itself.
DETECTION_BOUND = WORKER_TIMEOUT + 2 * HEARTBEAT + 1.0
GRACE = 5.0  # runtime.shutdown_grace_seconds, the default


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with backing("cluster") as services:
        instance = Cluster(tmp_path_factory.mktemp("cluster"), services, env=DETECTION)
        try:
            yield instance.start()
        finally:
            instance.stop()


def through(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.api, timeout=30)


def execute(client: httpx.Client, workflow: str, payload: dict[str, Any]) -> str:
    response = client.post("/workflows/execute", json={"workflow": workflow, "input": payload})
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


def statuses(events: list[SSE]) -> list[str]:
    return [event.data["data"]["status"] for event in events if event.event == "status"]


def running_worker(cluster: Cluster, client: httpx.Client, execution_id: str) -> Worker:
    """The worker process running the execution (the test workflows report their pid)."""
    status = wait_for(client, execution_id, {"running"})
    deadline = time.monotonic() + 10
    while not (status["progress"]["message"] or "").startswith("pid "):
        assert time.monotonic() < deadline, status
        status = client.get(f"/workflows/{execution_id}/status").json()
    pid = int(status["progress"]["message"].split()[1])
    return next(w for w in cluster.workers if w.process is not None and w.process.pid == pid)


def test_a_job_submitted_through_one_replica_streams_through_the_other(cluster: Cluster) -> None:
    first, second = cluster.replicas
    with through(first) as a, through(second) as b:
        execution_id = execute(a, "countdown", {"n": 20, "delay": 0.02})
        events = collect(b, f"/workflows/{execution_id}/events")
        assert [int(event.id or 0) for event in events] == list(range(1, len(events) + 1))
        assert statuses(events) == ["queued", "running", "succeeded"]
        chunks = [event.data["data"]["delta"] for event in events if event.event == "chunk"]
        assert "".join(chunks) == "".join(f"{i} " for i in range(20, 0, -1))
        assert a.get(f"/workflows/{execution_id}/results").json()["output"] == "".join(chunks)
        ran = 'nanobrain_executions_total{status="succeeded",workflow="countdown"}'
        assert not any(ran in client.get("/metrics").text for client in (a, b))
    assert any(ran in httpx.get(worker.metrics_url).text for worker in cluster.workers)


def test_a_cancel_through_another_replica_interrupts_the_worker(cluster: Cluster) -> None:
    first, second = cluster.replicas
    with through(first) as a, through(second) as b:
        execution_id = execute(a, "simulation", {"steps": 100, "step_seconds": 0.1})
        wait_for(a, execution_id, {"running"})
        started = time.monotonic()
        assert b.delete(f"/workflows/{execution_id}/cancel").status_code == 202
        final = wait_for(a, execution_id, {"cancelled", "succeeded", "failed"}, timeout=5)
        assert final["status"] == "cancelled"
        assert time.monotonic() - started < 1.0
        assert final["progress"]["fraction"] < 0.5


def test_a_stream_resumes_on_another_replica_when_its_replica_dies(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.nginx.api, verify=False, timeout=30) as client:
        execution_id = execute(client, "countdown", {"n": 40, "delay": 0.05})
        url = f"/workflows/{execution_id}/events"
        seen: list[SSE] = []
        with client.stream("GET", url) as response:
            serving = int(response.headers["x-upstream"].rsplit(":", 1)[1])
            victim = next(server for server in cluster.replicas if server.port == serving)
            try:
                for event in read_events(response):
                    seen.append(event)
                    if len(seen) == 8:
                        victim.kill()  # SIGKILL, mid-stream
            except httpx.HTTPError:
                pass  # the connection broke with the replica
        assert 8 <= len(seen) < 43 and seen[-1].data["type"] != "status"
        with client.stream("GET", url, headers={"Last-Event-ID": seen[-1].id or ""}) as response:
            assert int(response.headers["x-upstream"].rsplit(":", 1)[1]) != serving
            rest = list(read_events(response))
    ids = [int(event.id or 0) for event in seen + rest]
    assert ids == list(range(1, len(ids) + 1)), "every event exactly once, in order"
    assert statuses(seen + rest) == ["queued", "running", "succeeded"]
    victim.start()


def test_a_killed_worker_s_retry_safe_execution_is_redelivered(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.nginx.api, verify=False, timeout=30) as client:
        execution_id = execute(client, "steady", {"token": "again", "seconds": 3})
        victim = running_worker(cluster, client, execution_id)
        victim_pid = victim.process.pid if victim.process else 0
        killed = time.time()
        victim.kill()
        events = collect(client, f"/workflows/{execution_id}/events")
    redelivery = next(e for e in events if e.event == "status" and "redelivery" in e.data["data"])
    assert redelivery.data["data"]["redelivery"]["attempt"] == 2
    assert "stopped (no heartbeat" in redelivery.data["data"]["redelivery"]["reason"]
    detected = datetime.fromisoformat(redelivery.data["ts"]).timestamp()
    assert detected - killed <= DETECTION_BOUND
    assert statuses(events) == ["queued", "running", "queued", "running", "succeeded"]
    output = events[-2].data["data"]["output"]
    assert output["token"] == "again" and output["pid"] != victim_pid
    cluster.replace_worker(victim)


def test_a_stopped_worker_hands_its_retry_safe_execution_to_another(cluster: Cluster) -> None:
    """SIGTERM (a rolling deploy): what still runs after the grace period goes back to the queue
    at once, for another worker, instead of failing or waiting for the heartbeat timeout."""
    with httpx.Client(base_url=cluster.nginx.api, verify=False, timeout=30) as client:
        execution_id = execute(client, "steady", {"token": "handed", "seconds": 8})
        victim = running_worker(cluster, client, execution_id)
        victim_pid = victim.process.pid if victim.process else 0
        stopped = time.time()
        assert victim.stop() in (0, -signal.SIGTERM)
        events = collect(client, f"/workflows/{execution_id}/events")
    redelivery = next(e for e in events if e.event == "status" and "redelivery" in e.data["data"])
    assert redelivery.data["data"]["redelivery"]["attempt"] == 2
    assert f"its worker {victim.name} shut down" in redelivery.data["data"]["redelivery"]["reason"]
    handed = datetime.fromisoformat(redelivery.data["ts"]).timestamp()
    assert handed - stopped <= GRACE + 2  # at the end of the grace period
    assert statuses(events) == ["queued", "running", "queued", "running", "succeeded"]
    output = events[-2].data["data"]["output"]
    assert output["token"] == "handed" and output["pid"] != victim_pid
    cluster.replace_worker(victim)


def test_a_killed_worker_s_other_execution_fails_with_the_reason(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.nginx.api, verify=False, timeout=30) as client:
        execution_id = execute(client, "fragile", {"seconds": 30})
        victim = running_worker(cluster, client, execution_id)
        killed = time.monotonic()
        victim.kill()
        final = wait_for(client, execution_id, {"failed", "succeeded"}, timeout=10)
        assert time.monotonic() - killed <= DETECTION_BOUND
        assert final["status"] == "failed"
        assert final["error"]["type"] == "worker_lost"
        assert "not marked retry_safe" in final["error"]["message"]
        events = collect(client, f"/workflows/{execution_id}/events")
        assert statuses(events) == ["queued", "running", "failed"]
    cluster.replace_worker(victim)


def test_readiness_follows_the_workers(cluster: Cluster, tmp_path: Path) -> None:
    replica = cluster.replicas[0]
    with through(replica) as client:
        assert client.get("/health/ready").status_code == 200
        for worker in cluster.workers:
            worker.process.send_signal(signal.SIGSTOP)  # alive but silent: no heartbeats
        try:
            deadline = time.monotonic() + DETECTION_BOUND
            while client.get("/health/ready").status_code == 200:
                assert time.monotonic() < deadline, "readiness must drop without workers"
                time.sleep(0.1)
            ready = client.get("/health/ready").json()
            executor = ready["checks"]["executor"]
            assert (executor["status"], executor["workers"], executor["capacity"]) == ("down", 0, 0)
        finally:
            for worker in cluster.workers:
                worker.process.send_signal(signal.SIGCONT)
        wait = time.monotonic() + DETECTION_BOUND
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() < wait
            time.sleep(0.1)
