"""Fair share, distributed: the per-user limit holds across workers, a worker never idles on a
user at its limit, another user's work goes ahead, and a lease held by a worker that dies comes
back. A real API server (production profile, HTTPS) and `nanobrain worker` processes on this
run's own PostgreSQL database and Redis prefix."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.attack.fairness import (
    at,
    history,
    most_at_once,
    poll,
    someone_elses_work_is_prompt,
    start,
)
from tests.support.auth import Accounts, bearer, create_accounts
from tests.support.backing import REDIS, Backing, backing
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server, Worker

pytestmark = pytest.mark.distributed  # workers on PostgreSQL and Redis

SIM = {"steps": 20, "step_seconds": 0.1}  # 2 s each
PROMPT_SECONDS = 3.0  # without fair share: behind the hog's whole backlog (6 s and more)


def _env(tls: Tls, services: Backing, directory: Path) -> dict[str, str]:
    return production_env(
        tls,
        **services.env,
        NANOBRAIN_FILE_STORE=str(directory / "files"),
        NANOBRAIN_RUNTIME__MAX_CONCURRENCY="2",  # per worker
        NANOBRAIN_RUNTIME__FAIR_SHARE__RUNNING__USER="1",
        NANOBRAIN_RUNTIME__FAIR_SHARE__STREAMS__USER="2",
        NANOBRAIN_RUNTIME__HEARTBEAT_SECONDS="0.5",
        NANOBRAIN_RUNTIME__WORKER_TIMEOUT_SECONDS="2",
    )


class Deployment:
    def __init__(
        self,
        directory: Path,
        env: dict[str, str],
        services: Backing,
        workers: int,
        replicas: int = 1,
    ):
        self.workers = [Worker(directory, env, name=f"w{i}").start() for i in range(workers)]
        self.replicas = [Server(directory / f"api-{i}", env=env).start() for i in range(replicas)]
        self.server = self.replicas[0]
        self.services = services

    def leases(self) -> dict[str, str]:
        """Execution -> the lease's "holder user role", as the workers keep them in Redis."""
        client = redis.Redis.from_url(REDIS, decode_responses=True)
        try:
            found: dict[str, str] = client.hgetall(f"{self.services.prefix}:share:leases")
            return found
        finally:
            client.close()

    def held(self) -> dict[str, str]:
        client = redis.Redis.from_url(REDIS, decode_responses=True)
        try:
            found: dict[str, str] = client.hgetall(f"{self.services.prefix}:share:held")
            return found
        finally:
            client.close()

    def stop(self) -> None:
        for process in [*self.replicas, *self.workers]:
            process.kill()


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, tls: Tls
) -> Iterator[tuple[Deployment, Accounts]]:
    workers, replicas = request.param
    with backing("fairshare") as services:
        env = _env(tls, services, tmp_path)
        started = Deployment(tmp_path, env, services, workers, replicas)
        try:
            yield started, create_accounts(started.server.api, verify=tls.context())
        finally:
            started.stop()


@pytest.mark.parametrize("deployment", [(1, 1)], indirect=True, ids=["one-worker"])
def test_a_user_at_its_share_never_holds_back_another_user(
    deployment: tuple[Deployment, Accounts], tls: Tls
) -> None:
    cluster, accounts = deployment
    hog, other = accounts.tokens["user"], accounts.tokens["other-user"]
    with https_client(cluster.server.api, tls) as client:
        hogs = [start(client, hog, "simulation", {**SIM, "seed": n}) for n in range(6)]
        poll(lambda: any(e["status"] == "running" for e in history(client, hog)), 10, 0.1)
        # The hog's five others wait in its line (the worker took them off the stream and went
        # on): the other user's execution, tool call and chat run on the worker's free slot.
        someone_elses_work_is_prompt(client, accounts, "other-user", PROMPT_SECONDS)
        statuses = [e["status"] for e in history(client, hog)]
        assert statuses.count("running") == 1 and statuses.count("queued") == 5, statuses
        executor = client.get("/health").json()["checks"]["executor"]
        assert executor["capacity"] == 2 and executor["queued"] >= 5, executor
        assert executor["oldest_queued_seconds"] > 0
        others = [start(client, other, "simulation", SIM) for _ in range(2)]

        def finished(token: str, ids: list[str]) -> bool:
            executions = [e for e in history(client, token) if e["execution_id"] in ids]
            return all(e["status"] == "succeeded" for e in executions)

        poll(lambda: finished(hog, hogs) and finished(other, others), 60, what="all finishing")
        mine = [e for e in history(client, hog) if e["execution_id"] in hogs]
        theirs = [e for e in history(client, other) if e["execution_id"] in others]
    assert most_at_once(mine) == 1  # the share held, every time a turn passed on
    # Each user's executions start in the order they were made.
    for executions in (mine, theirs):
        made = [e["execution_id"] for e in sorted(executions, key=lambda e: at(e["created_at"]))]
        ran = [e["execution_id"] for e in sorted(executions, key=lambda e: at(e["started_at"]))]
        assert ran == made
    # The other user, who came after the hog's six, was not kept waiting behind all of them.
    assert max(at(e["started_at"]) for e in theirs) < max(at(e["started_at"]) for e in mine)
    assert cluster.leases() == {} and cluster.held() == {}  # every lease came back


@pytest.mark.parametrize("deployment", [(2, 1)], indirect=True, ids=["two-workers"])
def test_the_lease_of_a_worker_killed_mid_run_comes_back(
    deployment: tuple[Deployment, Accounts], tls: Tls
) -> None:
    cluster, accounts = deployment
    hog = accounts.tokens["user"]
    with https_client(cluster.server.api, tls) as client:
        ids = [start(client, hog, "simulation", {**SIM, "seed": n}) for n in range(4)]
        poll(lambda: len(cluster.leases()) == 1, 10, 0.1, "the hog's one lease")
        # Four free slots on two workers, yet one runs: the share holds across workers.
        time.sleep(0.5)
        statuses = [e["status"] for e in history(client, hog)]
        assert statuses.count("running") == 1 and statuses.count("queued") == 3, statuses
        (holder, user_id, _role) = next(iter(cluster.leases().values())).split(" ")
        victim = next(worker for worker in cluster.workers if worker.name == holder)
        victim.kill()  # SIGKILL while holding the hog's only turn
        # Recovery gives the turn back: the simulation (retry-safe) runs again elsewhere, and
        # the hog's queued ones follow. A lease left with the dead worker would block them all.
        poll(
            lambda: all(
                e["status"] == "succeeded" for e in history(client, hog) if e["execution_id"] in ids
            ),
            60,
            what="the hog's simulations finishing after the kill",
        )
        survivor = next(worker for worker in cluster.workers if worker is not victim)
        assert survivor.process is not None and survivor.process.poll() is None
    assert cluster.leases() == {} and cluster.held() == {}
    assert user_id == accounts.ids["user"]


@pytest.mark.parametrize("deployment", [(1, 2)], indirect=True, ids=["two-replicas"])
def test_open_streams_are_counted_across_replicas(
    deployment: tuple[Deployment, Accounts], tls: Tls
) -> None:
    cluster, accounts = deployment
    user = accounts.tokens["user"]
    first, second = (https_client(replica.api, tls) for replica in cluster.replicas)
    with first, second, contextlib.ExitStack() as held:
        run = start(first, user, "simulation", {"steps": 600, "step_seconds": 0.1})
        events = f"/workflows/{run}/events"
        for _ in range(2):  # the cap (2 per user), both on the first replica
            assert (
                held.enter_context(first.stream("GET", events, headers=bearer(user))).status_code
                == 200
            )
        refused = second.get(events, headers=bearer(user))
        assert refused.status_code == 429, refused.text
        wss = cluster.replicas[1].api.replace("https://", "wss://") + "/ws"
        with connect(f"{wss}?token={user}", ssl=tls.context(), open_timeout=10) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        # A replica that dies with its streams open takes its count with it once its beats stop.
        cluster.replicas[0].kill()
        with contextlib.suppress(httpx.HTTPError):
            held.close()
        poll(
            lambda: _status(second, events, user) == 200,
            15,
            0.5,
            "the closed streams' slots coming back",
        )
        second.delete(f"/workflows/{run}/cancel", headers=bearer(user))


def _status(client: httpx.Client, path: str, token: str) -> int:
    with client.stream("GET", path, headers=bearer(token)) as response:
        return response.status_code
