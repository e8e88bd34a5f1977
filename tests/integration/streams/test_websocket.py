"""The WebSocket protocol over a real server: multiplexing, resume, cancel, refusals."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import Server
from tests.support.ws import close_of, open_socket, receive, send


def until_final(
    ws: Any, wanted: set[str], log: list[dict[str, Any]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Messages by request_id, until each wanted request's stream has its final status."""
    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    done: set[str] = set()
    while done != wanted:
        message = receive(ws)
        if log is not None:
            log.append(message)
        seen[message.get("request_id")].append(message)
        data = message.get("data") or {}
        if message["type"] == "status" and data.get("status") in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            done.add(message["request_id"])
    return seen


def test_ready_ping_and_two_interleaved_executions_with_a_cancel(server: Server) -> None:
    with open_socket(server.api) as ws:
        ready = receive(ws)
        assert ready["type"] == "ready" and ready["user"]["role"] == "admin"
        send(ws, type="ping", id="p1")
        assert receive(ws) == {"type": "pong", "request_id": "p1"}
        send(
            ws,
            type="workflow.execute",
            id="a",
            workflow="countdown",
            input={"n": 20, "delay": 0.02},
        )
        send(
            ws,
            type="workflow.execute",
            id="b",
            workflow="simulation",
            input={"steps": 50, "step_seconds": 0.1},
        )
        created: dict[str, str] = {}
        early: list[dict[str, Any]] = []

        def flowing(who: str) -> int:
            return sum(m["request_id"] == who and m["type"] in ("chunk", "progress") for m in early)

        while flowing("a") < 3 or flowing("b") < 2:
            message = receive(ws)
            early.append(message)
            if message["type"] == "execution.created":
                created[message["request_id"]] = message["execution_id"]
        send(ws, type="cancel", id="c", execution_id=created["b"])
        until_final(ws, {"a", "b"}, early)
    seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in early:
        seen[message["request_id"]].append(message)
    order = [m["request_id"] for m in early if m["type"] in ("chunk", "progress")]
    a_at = [i for i, who in enumerate(order) if who == "a"]
    assert any(a_at[0] < i < a_at[-1] for i, who in enumerate(order) if who == "b")  # interleaved
    assert seen["c"][0]["type"] == "cancel.accepted"
    a_events = [m for m in seen["a"] if "seq" in m]
    chunks = [m["data"]["delta"] for m in a_events if m["type"] == "chunk"]
    assert chunks == [f"{i} " for i in range(20, 0, -1)]
    assert a_events[-1]["data"]["status"] == "succeeded"
    assert seen["b"][-1]["data"]["status"] == "cancelled"
    assert all(m["execution_id"] == created["b"] for m in seen["b"] if "seq" in m)


def test_subscribe_after_resumes_with_every_event_exactly_once(server: Server) -> None:
    with open_socket(server.api) as ws:
        receive(ws)
        send(
            ws,
            type="workflow.execute",
            id="x",
            workflow="countdown",
            input={"n": 30, "delay": 0.02},
        )
        first: list[dict[str, Any]] = []
        while len(first) < 8:
            message = receive(ws)
            if "seq" in message:
                first.append(message)
        execution_id = first[0]["execution_id"]
    # The connection dropped mid-stream; a new one resumes after the last event it saw.
    with open_socket(server.api) as ws:
        receive(ws)
        send(ws, type="subscribe", id="again", execution_id=execution_id, after=first[-1]["seq"])
        rest = [m for m in until_final(ws, {"again"})["again"] if "seq" in m]
    seqs = [m["seq"] for m in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    chunks = [m["data"]["delta"] for m in first + rest if m["type"] == "chunk"]
    assert chunks == [f"{i} " for i in range(30, 0, -1)]


def test_a_chat_turn_on_the_socket(server: Server) -> None:
    with open_socket(server.api) as ws:
        receive(ws)
        send(ws, type="chat.message", id="t1", content="hi there", workflow="parrot")
        seen = until_final(ws, {"t1"})["t1"]
        kinds = [m["type"] for m in seen]
        assert kinds[:2] == ["session.created", "execution.created"]
        session_id = seen[0]["session_id"]
        assert "typing" in kinds and "complete" in kinds
        complete = next(m for m in seen if m["type"] == "complete")
        assert complete["data"]["content"] == "turn 1 (history 0): hi there"
        send(ws, type="chat.message", id="t2", content="more", session_id=session_id)
        second = until_final(ws, {"t2"})["t2"]
        assert second[0]["type"] == "execution.created"  # no new session
        assert next(m for m in second if m["type"] == "complete")["data"]["content"].startswith(
            "turn 2 (history 2)"
        )


def test_bad_requests_get_errors_without_closing(server: Server) -> None:
    with open_socket(server.api) as ws:
        receive(ws)
        send(ws, type="nonsense", id=1)
        assert receive(ws)["data"]["status"] == 400
        ws.send("not json")
        assert receive(ws)["data"]["status"] == 400
        send(ws, type="workflow.execute", id=2, workflow="nope")
        error = receive(ws)
        assert error == {"type": "error", "request_id": 2, "data": error["data"]}
        assert error["data"]["status"] == 404
        send(ws, type="workflow.execute", id=3, workflow="echo", input={"message": 5})
        assert receive(ws)["data"]["status"] == 422
        send(ws, type="subscribe", id=4, execution_id="f" * 32)
        assert receive(ws)["data"]["status"] == 404
        send(ws, type="ping", id=5)
        assert receive(ws)["type"] == "pong"


def test_binary_frames_close_with_1003(server: Server) -> None:
    with open_socket(server.api) as ws:
        receive(ws)
        ws.send(b"\x00\x01")
        assert close_of(ws)[0] == 1003


@pytest.fixture
def strict_server(tmp_path: Path) -> Any:
    instance = Server(
        tmp_path / "data",
        env={
            "NANOBRAIN_REALTIME__WS_IDLE_TIMEOUT_SECONDS": "0.5",
            "NANOBRAIN_REALTIME__WS_AUTH_TIMEOUT_SECONDS": "0.5",
            "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__ENABLED": "true",
        },
    )
    yield instance.start()
    instance.kill()


def test_refusals_close_with_a_code_and_reason(strict_server: Server) -> None:
    # Authentication is on and no credential is valid here: every way in is refused with 4401.
    with open_socket(strict_server.api, token="not-a-token") as ws:
        code, reason = close_of(ws)
    assert code == 4401 and reason
    with open_socket(strict_server.api) as ws:
        code, reason = close_of(ws)  # no auth message within the auth timeout
    assert code == 4401 and "auth" in reason
    with open_socket(strict_server.api) as ws:
        send(ws, type="ping")
        assert close_of(ws)[0] == 4401
    with open_socket(strict_server.api) as ws:
        send(ws, type="auth", token="wrong")
        assert close_of(ws)[0] == 4401


def test_an_idle_socket_is_closed_but_a_subscribed_one_is_not(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", env={"NANOBRAIN_REALTIME__WS_IDLE_TIMEOUT_SECONDS": "0.5"})
    server.start()
    try:
        with open_socket(server.api) as ws:
            receive(ws)
            started = time.monotonic()
            assert close_of(ws) == (4408, "idle timeout")
            assert time.monotonic() - started < 5
        with open_socket(server.api) as ws:
            receive(ws)
            send(
                ws,
                type="workflow.execute",
                id="s",
                workflow="simulation",
                input={"steps": 3, "step_seconds": 0.4},
            )
            seen = until_final(ws, {"s"})
            assert seen["s"][-1]["data"]["status"] == "succeeded"  # 1.2 s, longer than idle
    finally:
        server.kill()
