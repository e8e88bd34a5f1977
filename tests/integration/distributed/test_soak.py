"""Soak: hundreds of executions through nginx while workers are killed at random. Every execution
ends final, none is lost, and none is answered twice."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from tests.support.backing import REDIS, Backing, backing
from tests.support.cluster import DETECTION, Cluster
from tests.support.server import Worker
from tests.support.sse import collect
from tests.support.waiting import wait_until

pytestmark = pytest.mark.soak

EXECUTIONS = 1000
PACE = 40  # submissions per second, so that the kills land throughout the run
WORKERS = 3
KILL_EVERY = (1.5, 3.0)  # seconds between kills (the replacement starts meanwhile)
DEADLINE = 100.0  # seconds for all of it, start-up excluded


@pytest.fixture(scope="module")
def services() -> Iterator[Backing]:
    with backing("soak") as created:
        yield created


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, services: Backing) -> Iterator[Cluster]:
    instance = Cluster(
        tmp_path_factory.mktemp("soak"),
        services,
        workers=WORKERS,
        env={**DETECTION, "NANOBRAIN_RUNTIME__MAX_ATTEMPTS": "5"},
    )
    try:
        yield instance.start()
    finally:
        instance.stop()


def kill_workers_at_random(cluster: Cluster, stop: threading.Event, kills: list[int]) -> None:
    """SIGKILL a random worker that is taking jobs, start a fresh one in its place, repeat.
    Only workers that came up are killed, so that on a slow machine the run still progresses."""
    chance = random.Random(6)
    while not stop.wait(chance.uniform(*KILL_EVERY)):
        ready = [worker for worker in cluster.workers if taking_jobs(worker)]
        if ready:
            cluster.replace_worker(chance.choice(ready), wait=False)
            kills.append(1)


def taking_jobs(worker: Worker) -> bool:
    try:
        return httpx.get(worker.metrics_url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_soak_with_random_worker_kills(cluster: Cluster, services: Backing) -> None:
    started = time.monotonic()
    tokens = {f"t{i}" for i in range(EXECUTIONS)}
    chance = random.Random(7)
    stop, kills = threading.Event(), []  # type: ignore[var-annotated]
    killer = threading.Thread(target=kill_workers_at_random, args=(cluster, stop, kills))
    with httpx.Client(base_url=cluster.nginx.api, verify=False, timeout=30) as client:

        def submit(token: str) -> tuple[str, str]:
            time.sleep(max(0.0, started + int(token[1:]) / PACE - time.monotonic()))
            seconds = chance.uniform(0.05, 0.6)
            reply = client.post(
                "/workflows/execute",
                json={"workflow": "steady", "input": {"token": token, "seconds": seconds}},
            )
            assert reply.status_code == 202, reply.text
            return str(reply.json()["execution_id"]), token

        killer.start()
        try:
            with ThreadPoolExecutor(8) as pool:
                submitted = dict(pool.map(submit, sorted(tokens)))
            records = wait_until_all_final(client, set(submitted), started + DEADLINE)
        finally:
            stop.set()
            killer.join()
        assert set(records) == set(submitted), "no execution lost, none made up"
        outcomes = Counter(record["status"] for record in records.values())
        assert set(outcomes) <= {"succeeded", "failed"}
        answered = [
            submitted[execution_id]
            for execution_id, record in records.items()
            if record["status"] == "succeeded"
        ]
        for record in records.values():
            if record["status"] == "failed":
                assert record["error"]["type"] == "worker_lost", record
        assert len(answered) == len(set(answered)), "no token answered twice"
        redelivered = 0
        with ThreadPoolExecutor(8) as pool:
            # A stream that never ends fails here (10 s without an event, before the 15 s ping).
            streams = pool.map(
                lambda i: collect(client, f"/workflows/{i}/events", timeout=10), records
            )
            for events in streams:
                ids = [int(event.id or 0) for event in events]
                assert ids == list(range(1, len(ids) + 1))
                assert sum(event.data["type"] == "result" for event in events) <= 1
                finals = [e for e in events if e.event == "status" and e.data["data"]["status"]]
                assert finals[-1].data["data"]["status"] in {"succeeded", "failed"}
                redelivered += any("redelivery" in e.data["data"] for e in finals)
        results = [
            client.get(f"/workflows/{i}/results").json()["output"]["token"]
            for i, r in records.items()
            if r["status"] == "succeeded"
        ]
        assert sorted(results) == sorted(answered)
    elapsed = time.monotonic() - started
    print(
        f"\nsoak: {len(submitted)} executions in {elapsed:.1f} s with {len(kills)} worker kills: "
        f"{outcomes['succeeded']} succeeded, {outcomes['failed']} failed (worker lost, attempts "
        f"used up), {redelivered} redelivered, 0 lost, 0 duplicated"
    )
    assert len(submitted) >= 500 and len(kills) >= 3
    assert elapsed < 120
    # The job stream keeps only what is not acknowledged yet (recovery trims the rest).
    jobs = redis.Redis.from_url(REDIS)
    wait_until(lambda: jobs.xlen(f"{services.prefix}:jobs") <= 20, 5, 0.2, "the job stream trimmed")
    jobs.close()


def wait_until_all_final(
    client: httpx.Client, ids: set[str], deadline: float
) -> dict[str, dict[str, Any]]:
    """The whole history of `steady` (this run's database: only this test's executions), once
    none of `ids` is queued or running."""
    while True:
        records: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            params: dict[str, Any] = {"workflow": "steady", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/executions", params=params).json()
            records.update({item["execution_id"]: item for item in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
        pending = [
            i for i in ids if records.get(i, {}).get("status") in (None, "queued", "running")
        ]
        if not pending:
            return records
        assert time.monotonic() < deadline, f"{len(pending)} executions never ended"
        time.sleep(0.5)
