"""The chat repository's encryption and its key rotation, piece by piece, on SQLite in-process.
Chat at rest through a server: tests/integration/security/test_encryption_chat.py."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.crypto.keyring import TEXT_PREFIX, KeyRing, decode_key
from nanobrain.store.blobs import LocalBlobStore
from nanobrain.store.chat import ChatRepository, ChatValueUnreadable, NewMessage
from nanobrain.store.database import create_engine, upgrade
from nanobrain.store.key_manifest import recorded_key_ids
from nanobrain.store.rotation import ChatMessageRotation, ChatSessionRotation, rotate
from tests.support.encryption import KEY_A, KEY_B, id_of

# -- the repository and its rotation, piece by piece -----------------------------------------
RAW_A, RAW_B = decode_key(KEY_A), decode_key(KEY_B)


async def database(tmp_path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    await upgrade(engine)
    return engine


async def conversation(repository: ChatRepository) -> str:
    session = await repository.create_session(
        owner_id="u1", workflow="parrot", target_kind="workflow", title="plans for the merger"
    )
    await repository.append(
        session.id,
        [
            NewMessage("user", "square 12 please"),
            NewMessage(
                "tool",
                '{"output": 144}',
                tool={"call_id": "c1", "name": "square", "arguments": '{"n": 12}'},
            ),
            NewMessage("assistant", "it is 144"),
        ],
        state={"remembered": "the user likes squares"},
    )
    return session.id


def raw_rows(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "chat.db") as connection:
        rows = connection.execute("SELECT content, tool FROM chat_messages").fetchall()
        rows += connection.execute("SELECT title, state FROM chat_sessions").fetchall()
    return [str(value) for row in rows for value in row if value not in (None, "null")]


def test_the_repository_encrypts_what_was_said_and_reads_it_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = await database(tmp_path)
        repository = ChatRepository(engine, KeyRing([RAW_A]))
        session_id = await conversation(repository)
        messages = await repository.history(session_id)
        assert [m.content for m in messages] == ["square 12 please", '{"output": 144}', "it is 144"]
        assert messages[1].tool == {"call_id": "c1", "name": "square", "arguments": '{"n": 12}'}
        session = await repository.get_session(session_id)
        assert session is not None
        assert session.title == "plans for the merger"
        assert session.state == {"remembered": "the user likes squares"}
        assert [s.title for s in await repository.list_sessions("u1", 10)] == [session.title]
        assert await repository.session_owner(session_id) == "u1"
        await engine.dispose()

    asyncio.run(scenario())
    stored = raw_rows(tmp_path)
    assert len(stored) == 3 + 1 + 2
    for value in stored:
        assert value.lstrip('"').startswith(TEXT_PREFIX)
        assert not any(word in value for word in ("square", "please", "merger", "remembered"))


def test_values_are_bound_to_their_row_and_column(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = await database(tmp_path)
        repository = ChatRepository(engine, KeyRing([RAW_A]))
        session_id = await conversation(repository)
        with sqlite3.connect(tmp_path / "chat.db") as connection:
            ids = [
                r[0] for r in connection.execute("SELECT id FROM chat_messages ORDER BY position")
            ]
            first = connection.execute(
                "SELECT content FROM chat_messages WHERE id = ?", (ids[0],)
            ).fetchone()[0]
            # The first message's content as the tool message's `tool` (another row and column).
            connection.execute(
                "UPDATE chat_messages SET tool = json(?) WHERE id = ?", (f'"{first}"', ids[1])
            )
        with pytest.raises(ChatValueUnreadable, match=f"chat message {ids[1]}"):
            await repository.history(session_id)
        await engine.dispose()

    asyncio.run(scenario())


def test_rows_from_before_encryption_read_back_and_without_keys_nothing_is_decrypted(
    tmp_path: Path,
) -> None:

    async def scenario() -> None:
        engine = await database(tmp_path)
        plain = ChatRepository(engine)
        session_id = await conversation(plain)
        other = await conversation(plain)
        await plain.append(other, [NewMessage("user", f"{TEXT_PREFIX}looks encrypted")])
        assert (await plain.history(other))[-1].content == f"{TEXT_PREFIX}looks encrypted"
        keyed = ChatRepository(engine, KeyRing([RAW_A]))
        with pytest.raises(ChatValueUnreadable):  # with keys, the lookalike is not genuine
            await keyed.history(other)
        messages = await keyed.history(session_id)
        assert messages[0].content == "square 12 please"
        assert messages[1].tool == {"call_id": "c1", "name": "square", "arguments": '{"n": 12}'}
        session = await keyed.get_session(session_id)
        assert session is not None and session.state == {"remembered": "the user likes squares"}
        await engine.dispose()

    asyncio.run(scenario())


def test_rotation_of_chat_is_idempotent_and_never_overwrites_a_newer_turn(tmp_path: Path) -> None:
    old, new = KeyRing([RAW_A]), KeyRing([RAW_B, RAW_A])

    class Racing(ChatSessionRotation):
        """A turn lands between reading the page and writing it back."""

        raced = False

        async def _rows(self, where: Any, limit: int) -> list[dict[str, Any]]:
            rows = await super()._rows(where, limit)
            if not self.raced and rows:
                self.raced = True
                await ChatRepository(self.engine, new).append(
                    rows[0]["id"], [NewMessage("user", "later")], state={"turns": 2}
                )
            return rows

    async def scenario() -> None:
        engine = await database(tmp_path)
        session_id = await conversation(ChatRepository(engine, old))
        sessions = await Racing(engine, new).run()
        assert (sessions.rewritten, sessions.current, sessions.failed) == (1, 0, {})
        messages = await ChatMessageRotation(engine, new, page_size=2).run()
        assert (messages.rewritten, messages.current, messages.failed) == (3, 1, {})
        again = await ChatMessageRotation(engine, new).run()
        assert (again.rewritten, again.current) == (0, 4)
        only_b = ChatRepository(engine, KeyRing([RAW_B]))
        session = await only_b.get_session(session_id)
        assert session is not None and session.state == {"turns": 2}  # the turn's state won
        assert session.title == "plans for the merger"
        assert [m.content for m in await only_b.history(session_id)][-1] == "later"
        await engine.dispose()

    asyncio.run(scenario())


def test_rotate_forgets_old_keys_only_once_files_and_chat_are_all_rotated(tmp_path: Path) -> None:
    files = tmp_path / "files"
    local = LocalBlobStore(files)

    async def scenario() -> None:
        engine = await database(tmp_path)
        plain = ChatRepository(engine)
        session_id = await conversation(plain)
        await rotate(engine, files, KeyRing([RAW_A]))  # encryption turned on: chat encrypted
        assert recorded_key_ids(local) == [id_of(KEY_A)]
        with sqlite3.connect(tmp_path / "chat.db") as connection:
            connection.execute(
                "UPDATE chat_sessions SET state = json(?) WHERE id = ?",
                ('"nbenc1:AAAA"', session_id),
            )
        reports = await rotate(engine, files, KeyRing([RAW_B, RAW_A]))
        assert [r.what for r in reports] == [
            "files",
            "chat sessions",
            "chat messages",
            "executions",
        ]
        assert reports[1].failed == {session_id: "the value is too short to be encrypted text"}
        assert recorded_key_ids(local) == [id_of(KEY_A), id_of(KEY_B)]  # A is still needed
        with sqlite3.connect(tmp_path / "chat.db") as connection:
            connection.execute("UPDATE chat_sessions SET state = NULL WHERE id = ?", (session_id,))
        reports = await rotate(engine, files, KeyRing([RAW_B, RAW_A]))
        assert not any(r.failed for r in reports)
        assert recorded_key_ids(local) == [id_of(KEY_B)]
        await engine.dispose()

    asyncio.run(scenario())
