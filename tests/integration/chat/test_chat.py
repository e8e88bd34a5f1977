"""Chat over a real server: turns, streamed replies, sessions and their history, restarts."""

from __future__ import annotations

from pathlib import Path

import httpx

from nanobrain.examples import DATA_DIR
from tests.support.server import Server
from tests.support.sse import collect


def test_a_chat_turn_replies_and_is_stored(client: httpx.Client) -> None:
    first = client.post("/chat", json={"message": "hello there", "workflow": "parrot"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["reply"] == "turn 1 (history 0): hello there"
    assert set(body) >= {"session_id", "message_id", "reply", "execution_id"}
    second = client.post("/chat", json={"message": "again", "session_id": body["session_id"]})
    assert second.json()["reply"] == "turn 2 (history 2): again"  # ctx.session and ctx.history
    history = client.get("/chat/history", params={"session_id": body["session_id"]}).json()
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "hello there"),
        ("assistant", "turn 1 (history 0): hello there"),
        ("user", "again"),
        ("assistant", "turn 2 (history 2): again"),
    ]
    assert history[1]["id"] == body["message_id"]
    assert all(m["created_at"].endswith("Z") for m in history)
    last = client.get("/chat/history", params={"session_id": body["session_id"], "limit": 1})
    assert [m["content"] for m in last.json()] == ["turn 2 (history 2): again"]
    sessions = {s["session_id"]: s for s in client.get("/chat/sessions").json()}
    assert sessions[body["session_id"]]["message_count"] == 4
    assert sessions[body["session_id"]]["workflow"] == "parrot"


def test_the_stream_goes_typing_chunks_complete_and_chunks_make_the_message(
    client: httpx.Client,
) -> None:
    events = collect(
        client,
        "/chat/stream",
        method="POST",
        json_body={"message": "one two three", "workflow": "parrot"},
    )
    kinds = [e.event for e in events if e.event not in ("status", "progress", "result")]
    assert kinds[0] == "typing" and kinds[-1] == "complete"
    assert set(kinds[1:-1]) == {"chunk"} and len(kinds) > 3
    ids = [int(e.id or 0) for e in events]
    assert ids == list(range(1, len(ids) + 1))  # numbered without gaps
    assert events[-1].event == "status" and events[-1].data["data"]["status"] == "succeeded"
    complete = next(e for e in events if e.event == "complete").data
    joined = "".join(e.data["data"]["delta"] for e in events if e.event == "chunk")
    assert complete["data"]["content"] == joined == "turn 1 (history 0): one two three"
    session_id = complete["session_id"]
    stored = client.get("/chat/history", params={"session_id": session_id}).json()
    assert stored[-1]["content"] == joined and stored[-1]["id"] == complete["data"]["message_id"]


def test_a_reconnect_resumes_the_same_turn_and_session(client: httpx.Client) -> None:
    events = collect(
        client,
        "/chat/stream",
        method="POST",
        json_body={"message": "a b c d", "workflow": "parrot"},
    )
    session_id = events[0].data["session_id"]
    middle = events[3].id or ""
    resumed = collect(
        client,
        "/chat/stream",
        method="POST",
        json_body={"message": "a b c d", "session_id": session_id},
        headers={"Last-Event-ID": middle},
    )
    assert [e.id for e in resumed] == [e.id for e in events[4:]]
    history = client.get("/chat/history", params={"session_id": session_id}).json()
    assert len(history) == 2  # the resume did not start another turn


def test_the_default_assistant_routes_runs_or_explains(client: httpx.Client) -> None:
    ran = client.post("/chat", json={"message": "count the words in: One fish. Two fish."}).json()
    assert "text-stats" in ran["reply"] and '"words": 4' in ran["reply"]
    explained = client.post("/chat", json={"message": "analyse the sequences in my FASTA file"})
    assert "sequence-analysis" in explained.json()["reply"] and "fasta" in explained.json()["reply"]
    upload = client.post(
        "/files", files={"file": ("sample.fasta", (DATA_DIR / "sample.fasta").read_bytes())}
    ).json()
    with_file = client.post(
        "/chat",
        json={
            "message": "analyse the sequences in this FASTA file",
            "attachments": [upload["file_id"]],
        },
    ).json()
    assert "I ran **sequence-analysis**" in with_file["reply"]
    history = client.get("/chat/history", params={"session_id": with_file["session_id"]}).json()
    assert history[0]["attachments"][0]["file_id"] == upload["file_id"]
    unclear = client.post("/chat", json={"message": "zzz qqq"}).json()
    assert "text-stats" in unclear["reply"] and "data-summary" in unclear["reply"]


def test_chat_refusals_are_problems(client: httpx.Client) -> None:
    assert client.post("/chat", json={"message": "x", "workflow": "nope"}).status_code == 404
    not_chat = client.post("/chat", json={"message": "x", "workflow": "echo"})
    assert not_chat.status_code == 422
    assert client.post("/chat", json={"message": ""}).status_code == 422
    assert client.post("/chat", json={"message": "x", "session_id": "f" * 32}).status_code == 404
    assert client.get("/chat/history", params={"session_id": "nope"}).status_code == 404
    assert client.post("/chat", json={"message": "x", "attachments": ["nope"]}).status_code == 422
    wrong = client.post("/chat", json={"message": "x", "workflow": "parrot"}).json()
    moved = client.post(
        "/chat", json={"message": "x", "session_id": wrong["session_id"], "workflow": "assistant"}
    )
    assert moved.status_code == 409


def test_deleting_a_session_removes_its_history(client: httpx.Client) -> None:
    body = client.post("/chat", json={"message": "bye", "workflow": "parrot"}).json()
    assert client.delete(f"/chat/sessions/{body['session_id']}").status_code == 204
    assert client.get("/chat/history", params={"session_id": body["session_id"]}).status_code == 404
    assert body["session_id"] not in {s["session_id"] for s in client.get("/chat/sessions").json()}


def test_history_survives_a_restart_and_the_session_continues(tmp_path: Path) -> None:
    server = Server(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=server.api, timeout=30) as client:
            body = client.post("/chat", json={"message": "first", "workflow": "parrot"}).json()
        assert server.stop()
        server.start()
        with httpx.Client(base_url=server.api, timeout=30) as client:
            again = client.post(
                "/chat", json={"message": "second", "session_id": body["session_id"]}
            )
            assert again.json()["reply"] == "turn 2 (history 2): second"
            history = client.get("/chat/history", params={"session_id": body["session_id"]}).json()
            assert [m["content"] for m in history][:2] == ["first", "turn 1 (history 0): first"]
    finally:
        server.kill()
