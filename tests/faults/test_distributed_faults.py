"""Faults of a distributed deployment: nginx in front of two API replicas and two workers, on a
PostgreSQL and a Redis of the test's own, which it restarts, pauses and kills under traffic.

Throughout: during an outage every request gets an answer within the client's bound, 503 with
`Retry-After` when it needs the missing service (never a 500, never a hang, never a broken
connection); afterwards every acknowledged execution (202 or 200) reaches a final state, and
every event stream followed through the outage resumes (`Last-Event-ID`) with each event once,
in order."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import asyncpg
import httpx
import pytest

from nanobrain.runtime.executors.base import Job
from nanobrain.runtime.executors.distributed import JobQueue
from nanobrain.security.policy import LOCAL_ADMIN
from tests.faults.outage import LONG_RUN, base_of, submit, through_outage
from tests.faults.report import report, settle
from tests.faults.traffic import CLIENT_TIMEOUT, Follower, check_stream
from tests.support.cluster import Cluster
from tests.support.services import PrivatePostgres, PrivateRedis
from tests.support.waiting import wait_until


def test_postgres_restarts_while_executions_run_and_stream(
    cluster: Cluster, postgres: PrivatePostgres
) -> None:
    through_outage(base_of(cluster), "database", postgres.stop, postgres.start)


def test_redis_restarts_while_executions_run_and_stream(
    cluster: Cluster, redis_server: PrivateRedis
) -> None:
    through_outage(base_of(cluster), "redis", redis_server.stop, redis_server.start)
    assert not any("worker_lost" in worker.log() for worker in cluster.workers), (
        "a live worker was taken for dead because Redis was out"
    )


async def _rows_since(postgres: PrivatePostgres, database: str, since: float) -> list[Any]:
    connection = await asyncpg.connect(f"{postgres.url}/{database}")
    try:
        return list(
            await connection.fetch(
                "SELECT id, status, attempts, error FROM executions "
                "WHERE created_at > to_timestamp($1) ORDER BY created_at",
                since,
            )
        )
    finally:
        await connection.close()


def rows_since(postgres: PrivatePostgres, cluster: Cluster, since: float) -> list[Any]:
    return asyncio.run(_rows_since(postgres, database_of(cluster), since))


def database_of(cluster: Cluster) -> str:
    return cluster.env["NANOBRAIN_DATABASE_URL"].rsplit("/", 1)[1]


def test_a_replica_killed_between_commit_and_push_leaves_nothing_queued(
    cluster: Cluster, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> None:
    """Redis holds every write (`CLIENT PAUSE ... WRITE`), so the replica commits the new record
    and then blocks pushing its job: it is killed right there. The execution was never
    acknowledged; it must not stay `queued`: the sweep fails it, saying why, and it never runs.
    Everything acknowledged before goes on."""
    base = base_of(cluster)
    api = f"{base}/api/v1"
    victim = cluster.replicas[0]
    with httpx.Client(verify=False, timeout=CLIENT_TIMEOUT) as client:
        earlier = [submit(client, api, "simulation", LONG_RUN) for _ in range(2)]
    followers = [Follower(api, execution_id).start() for execution_id in earlier]
    wait_until(
        lambda: all(f.events for f in followers), 15, interval=0.1, what="the streams to start"
    )

    since = time.time()
    answered: list[Any] = []

    def doomed() -> None:
        try:
            body = {"workflow": "simulation", "input": {"steps": 2, "step_seconds": 0.1}}
            answered.append(httpx.post(f"{victim.api}/workflows/execute", json=body, timeout=20))
        except httpx.HTTPError as exc:
            answered.append(exc)

    redis_server.pause_writes(10_000)
    paused_at, killed_at = time.monotonic(), 0.0
    try:
        request = threading.Thread(target=doomed, daemon=True)
        request.start()
        wait_until(
            lambda: bool(rows_since(postgres, cluster, since)), 10, interval=0.1, what="the commit"
        )
        victim.kill()
        killed_at = time.monotonic()
    finally:
        redis_server.unpause()
    request.join(20)
    assert len(answered) == 1 and isinstance(answered[0], httpx.HTTPError), answered
    [row] = rows_since(postgres, cluster, since)
    stranded = str(row["id"])
    assert row["status"] == "queued" and row["attempts"] == 0

    try:
        follower = Follower(api, stranded).start()
        outcome = settle(api, [stranded], timeout=30)[stranded]
        settled_after = time.monotonic() - killed_at
        follower.join(30)
        check_stream(follower)
        assert outcome["status"] == "failed" and outcome["error"]["type"] == "not_queued"
        assert settled_after < 5 + 5, "settled within stranded_after plus a few sweeps"
        statuses = [e.data["data"]["status"] for e in follower.events if e.event == "status"]
        assert "running" not in statuses, "it must never run"
        for earlier_follower in followers:
            earlier_follower.join(60)
            check_stream(earlier_follower)
        outcomes = settle(api, earlier)
        assert all(body["status"] == "succeeded" for body in outcomes.values()), outcomes
        [row] = rows_since(postgres, cluster, since)
        assert row["status"] == "failed" and row["attempts"] == 0
        report(
            "replica killed between commit and push",
            window=(paused_at, killed_at),
            recovered_at=killed_at + settled_after,
            during=[],
            answers=[],
            outcomes=outcomes,
            never_acknowledged={stranded: outcome["error"]["type"]},
            stranded_failed_after_s=round(settled_after, 1),
        )
    finally:
        victim.start()


def test_a_push_redis_cannot_take_is_refused_and_never_runs(
    cluster: Cluster, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> None:
    """Redis takes no write for longer than the dependency timeout: the submit answers 503 with
    Retry-After (not 202 for work that would never run, not 500, no hang) and its committed
    record is failed at once. When Redis lets the held push through afterwards, the worker's
    claim refuses it: the execution stays failed and never runs (exactly once: zero times)."""
    api = f"{base_of(cluster)}/api/v1"
    since = time.time()
    redis_server.pause_writes(4_000)
    started = time.monotonic()
    try:
        body = {"workflow": "simulation", "input": {"steps": 2, "step_seconds": 0.1}}
        response = httpx.post(f"{api}/workflows/execute", json=body, verify=False, timeout=20)
        took = time.monotonic() - started
    finally:
        redis_server.unpause()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] and response.json()["dependency"] == "redis"
    assert took < 2 + 2 + 1, "refused within the dependency timeouts"
    [row] = rows_since(postgres, cluster, since)
    assert row["status"] == "failed" and row["attempts"] == 0
    refused = str(row["id"])
    time.sleep(2)  # a held push, let through now, reaches a worker
    outcome = settle(api, [refused])[refused]
    assert outcome["status"] == "failed" and outcome["error"]["type"] == "unavailable"
    [row] = rows_since(postgres, cluster, since)
    assert row["attempts"] == 0, "it never ran"


def test_a_job_pushed_twice_runs_once(cluster: Cluster, redis_server: PrivateRedis) -> None:
    """The claim's compare-and-set makes a second delivery harmless: a job pushed again after
    its execution ended changes nothing (no second run, no new events)."""
    api = f"{base_of(cluster)}/api/v1"
    with httpx.Client(verify=False, timeout=CLIENT_TIMEOUT) as client:
        execution_id = submit(client, api, "simulation", {"steps": 2, "step_seconds": 0.05})
        first = settle(api, [execution_id])[execution_id]
        assert first["status"] == "succeeded"
        before = client.get(f"{api}/workflows/{execution_id}/events").text

        async def push_again() -> None:
            from redis.asyncio import Redis

            redis = Redis.from_url(redis_server.url)
            queue = JobQueue(redis_server.url, redis, cluster.env["NANOBRAIN_REDIS_PREFIX"])
            await queue.start()
            try:
                job = Job(execution_id, "workflow", "simulation", {"steps": 2}, LOCAL_ADMIN)
                await queue.push(job)
                deadline = time.monotonic() + 10
                while await queue.pushed_of([execution_id]):  # a worker took it
                    assert time.monotonic() < deadline, "no worker took the second push"
                    await asyncio.sleep(0.1)
            finally:
                await queue.close()
                await redis.aclose()

        asyncio.run(push_again())
        after = client.get(f"{api}/workflows/{execution_id}/status").json()
        assert after == first
        assert client.get(f"{api}/workflows/{execution_id}/events").text == before


pytestmark = pytest.mark.timeout(300)
