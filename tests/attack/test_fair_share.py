"""Fair share, embedded (API.md "Fairness"): one user flooding the executor never starves another.

Class: resource exhaustion by one principal. The cases: a `user` starting 40 long simulations
(which took every slot and hung everyone else's executions, tool calls and chat), queued
executions of several users starting in turn, and one user holding open SSE streams and
WebSockets without bound."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.attack.fairness import at, history, poll, someone_elses_work_is_prompt, start
from tests.support.auth import Accounts, bearer, create_accounts
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server
from tests.support.ws import receive, send

LONG = {"steps": 40, "step_seconds": 0.1}  # 4 s each, far longer than "prompt"
PROMPT_SECONDS = 2.0
BLOCKER = {"steps": 30, "step_seconds": 0.1}  # holds both slots while the others queue
SHORT = {"steps": 4, "step_seconds": 0.1}


def test_one_user_with_40_long_simulations_leaves_room_for_everyone_else(
    production: Server, production_accounts: Accounts, tls: Tls
) -> None:
    """The production defaults: 32 slots, a `user` holds at most 8 of them."""
    accounts = production_accounts
    hog = accounts.tokens["user"]
    with https_client(production.api, tls) as client:
        ids = [start(client, hog, "simulation", {**LONG, "seed": n}) for n in range(40)]

        def hog_running() -> list[dict[str, object]]:
            return [e for e in history(client, hog) if e["execution_id"] in ids]

        poll(lambda: sum(e["status"] == "running" for e in hog_running()) >= 8, 10)
        # The other user's execution, tool call and chat run at once.
        someone_elses_work_is_prompt(client, accounts, "other-user", PROMPT_SECONDS)
        # The hog's other 32 wait `queued` (not refused), and the executor says it is busy.
        statuses = [e["status"] for e in hog_running()]
        assert statuses.count("running") == 8 and statuses.count("queued") == 32
        health = client.get("/health").json()
        assert health["status"] == "ok"  # busy is not broken
        executor = health["checks"]["executor"]
        assert executor["capacity"] == 32 and executor["queued"] >= 32
        assert executor["oldest_queued_seconds"] > 0

        # All 40 finish, never more than 8 at once.
        def all_done() -> bool:
            executions = hog_running()
            assert sum(e["status"] == "running" for e in executions) <= 8
            return all(e["status"] == "succeeded" for e in executions)

        poll(all_done, 60, interval=1.0, what="the 40 simulations finishing")
        metrics = client.get("/metrics", headers=bearer(accounts.tokens["admin"])).text
        assert "nanobrain_executions_oldest_queued_seconds" in metrics
        assert "nanobrain_executor_capacity 32.0" in metrics


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[tuple[Server, Accounts]]:
    """The production profile with 2 slots, a share of 2 per principal (so the turn order alone
    decides who starts next) and 2 open streams per `user`."""
    env = production_env(
        tls,
        NANOBRAIN_RUNTIME__MAX_CONCURRENCY="2",
        NANOBRAIN_RUNTIME__FAIR_SHARE__RUNNING__USER="2",
        NANOBRAIN_RUNTIME__FAIR_SHARE__RUNNING__DEVELOPER="2",
        NANOBRAIN_RUNTIME__FAIR_SHARE__RUNNING__ADMIN="2",
        NANOBRAIN_RUNTIME__FAIR_SHARE__STREAMS__USER="2",
    )
    server = Server(tmp_path_factory.mktemp("small"), env=env).start()
    try:
        yield server, create_accounts(server.api, verify=tls.context())
    finally:
        server.kill()


def test_queued_executions_of_different_users_start_in_turn(
    small: tuple[Server, Accounts], tls: Tls
) -> None:
    server, accounts = small
    users = ["user", "other-user", "developer"]
    with https_client(server.api, tls) as client:
        # Both slots busy, then each user queues three, one user after the other.
        admin = accounts.tokens["admin"]
        blockers = [start(client, admin, "simulation", BLOCKER) for _ in range(2)]
        poll(
            lambda: all(
                e["status"] == "running"
                for e in history(client, admin)
                if e["execution_id"] in blockers
            ),
            10,
            interval=0.1,
        )
        queued = {
            name: [start(client, accounts.tokens[name], "simulation", SHORT) for _ in range(3)]
            for name in users
        }
        starts: list[tuple[str, str]] = []

        def all_done() -> bool:
            starts.clear()
            done = True
            for name in users:
                for execution in history(client, accounts.tokens[name]):
                    if execution["execution_id"] in queued[name]:
                        done &= execution["status"] == "succeeded"
                        if execution["started_at"]:
                            starts.append((execution["started_at"], name))
            return done

        poll(all_done, 30, what="every queued simulation finishing")
    order = [name for _, name in sorted(starts, key=lambda item: at(item[0]))]
    # Round robin: the first user's three do not all go before the others' (FIFO would).
    assert order == users * 3, order


def test_open_streams_are_capped_per_user_while_others_still_connect(
    small: tuple[Server, Accounts], tls: Tls
) -> None:
    server, accounts = small
    user, other = accounts.tokens["user"], accounts.tokens["other-user"]
    wss = server.api.replace("https://", "wss://") + "/ws"
    with https_client(server.api, tls) as client, contextlib.ExitStack() as held:
        long_run = start(client, user, "simulation", {"steps": 600, "step_seconds": 0.1})
        events = f"/workflows/{long_run}/events"
        for _ in range(2):  # the cap: 2 open streams per `user`
            stream = held.enter_context(client.stream("GET", events, headers=bearer(user)))
            assert stream.status_code == 200

        refused = client.get(events, headers=bearer(user))
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["Retry-After"]) >= 1
        assert "open streams" in refused.json()["detail"]

        # Refused before anything starts: a chat stream past the cap runs no turn.
        before = len(history(client, user, "assistant"))
        chat = client.post("/chat/stream", json={"message": "hello"}, headers=bearer(user))
        assert chat.status_code == 429, chat.text
        assert len(history(client, user, "assistant")) == before

        # The WebSocket past the cap is closed with 4429 once the user is known.
        with connect(wss, ssl=tls.context(), open_timeout=10) as socket:
            send(socket, type="auth", token=user)
            assert _close_code(socket) == 4429

        # Another user is not held back, on either transport.
        other_run = start(client, other, "echo", {"message": "hi"})
        with client.stream("GET", f"/workflows/{other_run}/events", headers=bearer(other)) as ok:
            assert ok.status_code == 200
        with connect(wss, ssl=tls.context(), open_timeout=10) as ws:
            send(ws, type="auth", token=other)
            assert receive(ws)["type"] == "ready"

        # Closing one of the user's streams frees its slot.
        held.close()
        deadline = time.monotonic() + 5
        while True:
            with client.stream("GET", events, headers=bearer(user)) as reopened:
                if reopened.status_code == 200:
                    break
            assert time.monotonic() < deadline, "a closed stream's slot never came back"
            time.sleep(0.1)
        client.delete(f"/workflows/{long_run}/cancel", headers=bearer(user))


def _close_code(socket: ClientConnection) -> int:
    try:
        while True:
            socket.recv(timeout=10)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code
