"""Class: a transport that keeps the permissions it had at connect.

An open WebSocket (or event stream) must be authorised at every message and every delivered batch
as an HTTP request would be at that moment: a principal demoted, deleted, signed out, or whose
token or key expired or was revoked loses what it lost within seconds, on a socket opened before
the change.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from tests.support.auth import forge
from tests.support.principals import Principal, make_user
from tests.support.production import PRODUCTION_SECRET, Tls
from tests.support.server import Server
from tests.support.sse import read_events
from tests.support.ws import close_of, open_socket, receive, send

LONG_RUN = {"workflow": "simulation", "input": {"steps": 60, "step_seconds": 0.25}}
CLOSED_WITHIN = 10.0  # seconds: credentials re-checked every 2 s, cached for at most 5


@pytest.fixture
def http(tight: Server, tls: Tls) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tight.api, verify=tls.context(), timeout=30) as client:
        yield client


def user_of(role: str, tight: Server, tls: Tls, admin: dict[str, str]) -> Principal:
    return make_user(tight.api, tls, admin, role)


def start_long_run(http: httpx.Client, headers: dict[str, str]) -> str:
    started = http.post("/workflows/execute", json=LONG_RUN, headers=headers)
    assert started.status_code == 202, started.text
    execution_id: str = started.json()["execution_id"]
    return execution_id


@contextlib.contextmanager
def socket(tight: Server, tls: Tls, credential: str) -> Iterator[ClientConnection]:
    with open_socket(tight.api, credential, tls.context()) as ws:
        assert receive(ws)["type"] == "ready"
        yield ws


def until_for(ws: ClientConnection, request_id: str) -> list[dict[str, Any]]:
    """The messages for `request_id` up to and including its error or its final status."""
    seen = []
    while True:
        message = receive(ws)
        if message.get("request_id") != request_id:
            continue
        seen.append(message)
        final = message["type"] == "status" and message["data"]["status"] in (
            "succeeded",
            "failed",
            "cancelled",
        )
        if message["type"] == "error" or final:
            return seen


def closed_within(ws: ClientConnection, seconds: float = CLOSED_WITHIN) -> tuple[int, str]:
    started = time.monotonic()
    code, reason = close_of(ws, timeout=seconds + 5)
    assert time.monotonic() - started < seconds + 5
    return code, reason


def test_a_demoted_developer_stops_streaming_another_users_run_and_may_no_longer_run(
    tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    victim = user_of("user", tight, tls, tight_admin)
    developer = user_of("developer", tight, tls, tight_admin)
    run = start_long_run(http, victim.headers)
    try:
        with socket(tight, tls, developer.access_token) as ws:
            send(ws, type="subscribe", id="watch", execution_id=run)
            first = receive(ws)
            assert first["request_id"] == "watch" and first["execution_id"] == run  # may see it
            demoted = http.patch(
                f"/admin/users/{developer.id}", json={"role": "guest"}, headers=tight_admin
            )
            assert demoted.status_code == 200
            # The live subscription ends with a 403 while the run goes on: no more of its events.
            last = until_for(ws, "watch")[-1]
            assert last["type"] == "error" and last["data"]["status"] == 403, last
            status = http.get(f"/workflows/{run}/status", headers=victim.headers).json()
            assert status["status"] == "running"
            # Its next message is authorised as the guest it now is.
            send(ws, type="workflow.execute", id="run", workflow="echo", input={"message": "x"})
            refused = until_for(ws, "run")
            assert [m["type"] for m in refused] == ["error"] and refused[0]["data"]["status"] == 403
            send(ws, type="subscribe", id="again", execution_id=run)
            assert until_for(ws, "again")[0]["data"]["status"] == 404  # not its own: unknown
            send(ws, type="ping", id="p")
            assert receive(ws) == {"type": "pong", "request_id": "p"}  # a guest still reads
    finally:
        http.delete(f"/workflows/{run}/cancel", headers=tight_admin)


def test_a_deleted_users_socket_is_closed_and_its_stream_stops(
    tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    doomed = user_of("user", tight, tls, tight_admin)
    with socket(tight, tls, doomed.access_token) as ws:
        send(ws, type="workflow.execute", id="own", **LONG_RUN)
        created = receive(ws)
        assert created["type"] == "execution.created"
        assert receive(ws)["request_id"] == "own"  # its events flow
        deleted = http.delete(f"/admin/users/{doomed.id}", headers=tight_admin)
        assert deleted.status_code == 204
        assert closed_within(ws)[0] == 4401
    http.delete(f"/workflows/{created['execution_id']}/cancel", headers=tight_admin)


@pytest.mark.parametrize("credential", ["token", "api key"])
def test_a_socket_is_closed_when_its_token_or_key_expires(
    credential: str, tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    user = user_of("user", tight, tls, tight_admin)
    expires = int(time.time()) + 3
    if credential == "token":  # signed as the server signs: valid for three seconds
        secret = forge(PRODUCTION_SECRET, sub=user.id, exp=expires)
    else:
        created = http.post(
            "/auth/api-keys",
            json={"name": "short", "expires_at": datetime.fromtimestamp(expires, UTC).isoformat()},
            headers=user.headers,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["key"]
    run = start_long_run(http, user.headers)
    try:
        with socket(tight, tls, secret) as ws:
            send(ws, type="subscribe", id="own", execution_id=run)
            assert receive(ws)["request_id"] == "own"
            code, reason = closed_within(ws)
            assert code == 4401 and "expired" in reason, reason
            assert time.time() >= expires
    finally:
        http.delete(f"/workflows/{run}/cancel", headers=user.headers)


def test_signing_out_closes_the_logins_sockets_and_refuses_its_access_token(
    tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    user = user_of("user", tight, tls, tight_admin)
    with socket(tight, tls, user.access_token) as ws:
        send(ws, type="ping", id="p")
        assert receive(ws)["type"] == "pong"
        signed_out = http.post("/auth/logout", json={"refresh_token": user.refresh_token})
        assert signed_out.status_code == 204
        code, reason = closed_within(ws)
        assert code == 4401 and "signed out" in reason, reason
    assert http.get("/auth/me", headers=user.headers).status_code == 401


def test_a_revoked_api_keys_socket_is_closed(
    tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    user = user_of("user", tight, tls, tight_admin)
    key = http.post("/auth/api-keys", json={"name": "soon gone"}, headers=user.headers).json()
    with socket(tight, tls, key["key"]) as ws:
        revoked = http.delete(f"/auth/api-keys/{key['id']}", headers=user.headers)
        assert revoked.status_code == 204
        assert closed_within(ws)[0] == 4401
    assert http.get("/auth/me", headers={"X-API-Key": key["key"]}).status_code == 401


def test_socket_runs_count_against_the_execute_rate_limit_like_http_runs(
    tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    """`tight` allows 4 executes a minute per user, whichever transport carries them."""
    run = {"workflow": "echo", "input": {"message": "x"}}
    first = user_of("user", tight, tls, tight_admin)
    answers = [
        http.post("/workflows/execute", json={**run, "wait": True}, headers=first.headers)
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    with socket(tight, tls, first.access_token) as ws:
        send(ws, type="workflow.execute", id="over", **run)
        refused = until_for(ws, "over")
        assert [m["type"] for m in refused] == ["error"], refused
        assert refused[0]["data"]["status"] == 429 and refused[0]["data"]["retry_after"] >= 1
    history = http.get("/executions", headers=first.headers).json()
    assert len(history["items"]) == 4  # the refused run never started

    second = user_of("user", tight, tls, tight_admin)  # the other way round
    with socket(tight, tls, second.access_token) as ws:
        for index in range(4):
            send(ws, type="workflow.execute", id=f"r{index}", **run)
            assert until_for(ws, f"r{index}")[-1]["data"]["status"] == "succeeded"
    over = http.post("/workflows/execute", json=run, headers=second.headers)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1


def test_a_socket_at_its_subscription_cap_starts_nothing(
    tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    """`tight` allows one live subscription per socket."""
    user = user_of("user", tight, tls, tight_admin)
    with socket(tight, tls, user.access_token) as ws:
        send(ws, type="workflow.execute", id="a", **LONG_RUN)
        created = receive(ws)
        assert created["type"] == "execution.created"
        run = created["execution_id"]
        try:
            send(ws, type="workflow.execute", id="b", workflow="echo", input={"message": "x"})
            send(ws, type="chat.message", id="c", content="hello", workflow="parrot")
            for request_id in ("b", "c"):
                refused = until_for(ws, request_id)
                assert [m["type"] for m in refused] == ["error"], refused
                assert refused[0]["data"]["status"] == 429
                assert "subscriptions" in refused[0]["data"]["detail"]
        finally:
            http.delete(f"/workflows/{run}/cancel", headers=tight_admin)
    executions = http.get("/executions", headers=user.headers).json()["items"]
    assert [e["execution_id"] for e in executions] == [run]
    assert http.get("/chat/sessions", headers=user.headers).json() == []


def test_a_demoted_developers_event_stream_of_another_users_run_ends(
    tight: Server, tls: Tls, tight_admin: dict[str, str], http: httpx.Client
) -> None:
    """The same for Server-Sent Events: each batch is sent only while the principal may see it."""
    victim = user_of("user", tight, tls, tight_admin)
    developer = user_of("developer", tight, tls, tight_admin)
    run = start_long_run(http, victim.headers)
    try:
        with http.stream("GET", f"/workflows/{run}/events", headers=developer.headers) as stream:
            assert stream.status_code == 200
            events = read_events(stream)
            assert next(events).data["execution_id"] == run  # it may see it
            demoted = http.patch(
                f"/admin/users/{developer.id}", json={"role": "user"}, headers=tight_admin
            )
            assert demoted.status_code == 200
            rest = list(events)  # the server ends the stream
        assert not any(
            e.event == "status" and e.data["data"]["status"] == "succeeded" for e in rest
        )
        status = http.get(f"/workflows/{run}/status", headers=victim.headers).json()
        assert status["status"] == "running"
        again = http.get(f"/workflows/{run}/events", headers=developer.headers)
        assert again.status_code == 404
    finally:
        http.delete(f"/workflows/{run}/cancel", headers=tight_admin)
