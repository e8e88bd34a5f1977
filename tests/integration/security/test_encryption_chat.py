"""Chat at rest: what the database holds with and without keys, what clients get, restarts,
tampered values, key rotation of chat (and what it means for the key manifest). The repository
piece by piece is in tests/unit/store/test_chat_encryption.py, file encryption in
test_encryption.py."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nanobrain.crypto.keyring import TEXT_PREFIX, KeyRing, UnknownKey, decode_key
from tests.support.api import assert_problem
from tests.support.encryption import KEY_A, KEY_B, id_of, keys_env, serve_refusal
from tests.support.encryption import rotate as rotate_cli
from tests.support.server import Server

SECRETS = ["the launch code is 0000", "my diagnosis came back", "the merger closes friday"]


def chat(client: httpx.Client, message: str, session_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "workflow": "parrot"}
    if session_id is not None:
        body = {"message": message, "session_id": session_id}
    response = client.post("/chat", json=body)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def history(client: httpx.Client, session_id: str) -> list[tuple[str, str]]:
    response = client.get("/chat/history", params={"session_id": session_id})
    assert response.status_code == 200, response.text
    return [(m["role"], m["content"]) for m in response.json()]


def db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "nanobrain.db", timeout=30)


def stored_chat(data_dir: Path) -> list[tuple[str, str]]:
    """(id, stored value) of every chat message's content and session's title and state."""
    with db(data_dir) as connection:
        rows = connection.execute("SELECT id, content FROM chat_messages").fetchall()
        rows += connection.execute("SELECT id, title FROM chat_sessions").fetchall()
        rows += connection.execute("SELECT id, state FROM chat_sessions").fetchall()
    return [(str(row_id), str(value)) for row_id, value in rows]


def value_key(value: str) -> bytes:
    """The key id an `nbenc1:` value names."""
    body = value.removeprefix('"').removesuffix('"').removeprefix(TEXT_PREFIX)
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[:8]


def talk(server: Server) -> str:
    """A session of two turns holding SECRETS; its id."""
    with httpx.Client(base_url=server.api, timeout=30) as client:
        first = chat(client, SECRETS[0])
        chat(client, SECRETS[1], first["session_id"])
    return str(first["session_id"])


def expected(turns: int = 2) -> list[tuple[str, str]]:
    said = []
    for turn, message in enumerate(SECRETS[:turns]):
        said.append(("user", message))
        said.append(("assistant", f"turn {turn + 1} (history {2 * turn}): {message}"))
    return said


@pytest.fixture
def encrypted(tmp_path: Path) -> Iterator[Server]:
    instance = Server(tmp_path / "data", env=keys_env(KEY_A)).start()
    yield instance
    instance.kill()


# -- what is stored, what is served ------------------------------------------------------------
def test_chat_is_ciphertext_in_the_database_and_plaintext_to_clients_across_restarts(
    encrypted: Server,
) -> None:
    session_id = talk(encrypted)
    values = stored_chat(encrypted.data_dir)
    assert len(values) == 4 + 2  # four messages, a session's title and state
    for _, value in values:
        assert value.lstrip('"').startswith(TEXT_PREFIX) and value_key(value) == id_of(KEY_A)
        assert not any(word in value for word in ("launch", "diagnosis", "turn"))
    with httpx.Client(base_url=encrypted.api, timeout=30) as client:
        assert history(client, session_id) == expected()
        client.get("/executions")  # flushes the write-behind records: the turns are executions
        turns = [i for i in client.get("/executions").json()["items"] if i["workflow"] == "parrot"]
        assert sorted(turn["input"]["message"] for turn in turns) == sorted(SECRETS[:2])
    with db(encrypted.data_dir) as connection:
        stored = connection.execute("SELECT input, output FROM executions").fetchall()
    assert stored and all(
        value.lstrip('"').startswith(TEXT_PREFIX) for row in stored for value in row if value
    )
    assert not any(word in str(stored) for word in ("launch", "diagnosis", "turn"))
    with httpx.Client(base_url=encrypted.api, timeout=30) as client:
        sessions = {s["session_id"]: s for s in client.get("/chat/sessions").json()}
        assert sessions[session_id]["title"] == SECRETS[0]

    encrypted.kill()
    encrypted.start()
    with httpx.Client(base_url=encrypted.api, timeout=30) as client:
        assert history(client, session_id) == expected()
        third = chat(client, SECRETS[2], session_id)  # the state and history decrypt for a turn
        assert third["reply"] == f"turn 3 (history 4): {SECRETS[2]}"
        resumed = client.post(
            "/chat/stream",
            json={"message": SECRETS[2], "session_id": session_id},
            headers={"Last-Event-ID": "1"},
        )
        assert resumed.status_code == 200
    assert KEY_A not in encrypted.log()


def test_without_keys_chat_is_stored_as_written(tmp_path: Path) -> None:
    server = Server(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=server.api, timeout=30) as client:
            session_id = chat(client, SECRETS[0])["session_id"]
            # Plaintext that merely looks encrypted is only text when encryption is off.
            lookalike = chat(client, f"{TEXT_PREFIX}AAAA not really")["session_id"]
            assert history(client, lookalike)[0] == ("user", f"{TEXT_PREFIX}AAAA not really")
            assert client.get("/chat/sessions").status_code == 200
        with db(server.data_dir) as connection:
            content = connection.execute(
                "SELECT content FROM chat_messages WHERE session_id = ? AND role = 'user'",
                (session_id,),
            ).fetchone()[0]
        assert content == SECRETS[0]
        assert not (server.data_dir / "files" / ".encryption.json").exists()
    finally:
        server.kill()


# -- damaged values --------------------------------------------------------------------------------
def flip(value: str) -> str:
    middle = len(value) // 2
    return value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]


def test_tampered_chat_values_are_problems_with_a_logged_reason(encrypted: Server) -> None:
    session_id = talk(encrypted)
    other_id = talk(encrypted)
    reply = "SELECT id, content FROM chat_messages WHERE session_id = ? AND position = 1"
    with db(encrypted.data_dir) as connection:
        victim, content = connection.execute(reply, (session_id,)).fetchone()
        _, donor_content = connection.execute(reply, (other_id,)).fetchone()
        connection.execute(
            "UPDATE chat_messages SET content = ? WHERE id = ?", (flip(content), victim)
        )
    with httpx.Client(base_url=encrypted.api, timeout=30) as client:
        body = assert_problem(client.get("/chat/history", params={"session_id": session_id}), 500)
        assert body["title"] == "Chat unreadable"
        assert f"chat message {victim}" in body["detail"] and "integrity" not in body["detail"]
        # A turn in that session cannot read its history: the turn fails, cleanly.
        turn = assert_problem(
            client.post("/chat", json={"message": "hi", "session_id": session_id}), 500
        )
        assert turn["error"]["type"] == "chat_unreadable" and victim in turn["detail"]

        # Another message's genuine ciphertext in its place does not pass either.
        with db(encrypted.data_dir) as connection:
            connection.execute(
                "UPDATE chat_messages SET content = ? WHERE id = ?", (donor_content, victim)
            )
        assert_problem(client.get("/chat/history", params={"session_id": session_id}), 500)

        # A damaged title breaks the list, naming the session; the session can still go.
        with db(encrypted.data_dir) as connection:
            (title,) = connection.execute(
                "SELECT title FROM chat_sessions WHERE id = ?", (other_id,)
            ).fetchone()
            connection.execute(
                "UPDATE chat_sessions SET title = ? WHERE id = ?", (flip(title), other_id)
            )
        listed = assert_problem(client.get("/chat/sessions"), 500)
        assert f"chat session {other_id}" in listed["detail"]
        assert client.delete(f"/chat/sessions/{other_id}").status_code == 204
        assert client.delete(f"/chat/sessions/{session_id}").status_code == 204
        assert client.get("/chat/sessions").status_code == 200
    log = encrypted.log()
    assert "failed its integrity check" in log and f"chat message {victim}" in log
    assert "Traceback" not in log


# -- enabling encryption and rotating keys -----------------------------------------------------
def test_chat_stored_before_encryption_is_read_then_encrypted_by_rotate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    plain = Server(data).start()
    session_id = talk(plain)
    plain.kill()
    assert any(value == SECRETS[0] for _, value in stored_chat(data))

    server = Server(data, env=keys_env(KEY_A)).start()  # no files: it may start at once
    try:
        with httpx.Client(base_url=server.api, timeout=30) as client:
            assert history(client, session_id) == expected()  # the old rows read as they are
            chat(client, SECRETS[2], session_id)  # the new rows are encrypted
        code, report = rotate_cli(data, KEY_A)
        assert code == 0, report
        assert "chat messages: 4 re-encrypted, 2 already under" in report
        assert "chat sessions: 1 re-encrypted, 0 already under" in report
        assert all(value.lstrip('"').startswith(TEXT_PREFIX) for _, value in stored_chat(data))
        with httpx.Client(base_url=server.api, timeout=30) as client:
            assert history(client, session_id) == expected(3)
    finally:
        server.kill()


def test_rotation_moves_chat_to_the_new_key_and_retires_the_old(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Server(data, env=keys_env(KEY_A)).start()
    session_id = talk(old)
    old.kill()

    code, report = rotate_cli(data, KEY_B, KEY_A)
    assert code == 0, report
    assert "files: 0 re-encrypted" in report
    assert f"chat messages: 4 re-encrypted, 0 already under key {id_of(KEY_B).hex()}" in report
    assert "chat sessions: 1 re-encrypted" in report
    assert {value_key(value) for _, value in stored_chat(data)} == {id_of(KEY_B)}
    code, report = rotate_cli(data, KEY_B, KEY_A)
    assert code == 0 and "chat messages: 0 re-encrypted, 4 already under" in report

    # The old key alone is refused at start-up, and could not read a message anyway.
    assert id_of(KEY_B).hex() in serve_refusal(data, KEY_A)
    message_id, content = stored_chat(data)[0]
    with pytest.raises(UnknownKey):
        KeyRing([decode_key(KEY_A)]).decrypt_text(
            content, context=f"chat_messages.content:{message_id}"
        )
    new = Server(data, env=keys_env(KEY_B)).start()
    try:
        with httpx.Client(base_url=new.api, timeout=30) as client:
            assert history(client, session_id) == expected()
    finally:
        new.kill()


def test_a_damaged_message_keeps_the_old_key_needed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Server(data, env=keys_env(KEY_A)).start()
    session_id = talk(old)
    old.kill()
    with db(data) as connection:
        victim, content = connection.execute(
            "SELECT id, content FROM chat_messages WHERE position = 0"
        ).fetchone()
        connection.execute(
            "UPDATE chat_messages SET content = ? WHERE id = ?", (flip(content), victim)
        )
    code, report = rotate_cli(data, KEY_B, KEY_A)
    assert code == 2
    assert "chat messages: 3 re-encrypted" in report and "1 failed" in report and victim in report
    assert id_of(KEY_A).hex() in serve_refusal(data, KEY_B)  # files are fine, chat is not

    with db(data) as connection:  # the operator deletes the damaged conversation
        connection.execute("DELETE FROM chat_messages WHERE session_id = ?", (session_id,))
        connection.execute("DELETE FROM chat_sessions WHERE id = ?", (session_id,))
    assert rotate_cli(data, KEY_B, KEY_A)[0] == 0
    Server(data, env=keys_env(KEY_B)).start().kill()  # the old key is no longer needed
