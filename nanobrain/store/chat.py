"""Chat sessions and their messages: who talked to which workflow or agent, and what was said.

With a key ring enabled, what was said is encrypted at rest (`KeyRing.encrypt_text`): each
message's `content` and `tool` (the call's arguments: user data the model passed on; a workflow
may put anything there), and each session's `title` (the first message's start) and `state`
(whatever the workflow remembers). A JSON value is stored as the encrypted text of its JSON. Each
value is bound to its table, column and row id, so it cannot be moved to another row or column.
Values written before encryption was enabled read back as they are; `nanobrain keys rotate`
encrypts them. Who, when, which workflow, roles, token counts and attachments (file ids and names,
as the files table holds them) stay in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.core.clock import utcnow
from nanobrain.core.ids import new_id
from nanobrain.crypto.keyring import DecryptionError, KeyRing
from nanobrain.store.models import ChatMessageRow, ChatSessionRow
from nanobrain.store.sealed import open_json, open_text, seal_json, seal_text

ROLES = ("user", "assistant", "tool")


@dataclass(slots=True)
class ChatSession:
    id: str
    owner_id: str
    workflow: str
    target_kind: str
    title: str
    state: dict[str, Any]
    message_count: int
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "workflow": self.workflow,
            "kind": self.target_kind,
            "title": self.title,
            "message_count": self.message_count,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(slots=True)
class NewMessage:
    role: str
    content: str
    attachments: list[dict[str, Any]] = field(default_factory=list)
    tool: dict[str, Any] | None = None
    execution_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(slots=True)
class ChatMessage:
    id: str
    session_id: str
    position: int
    role: str
    content: str
    attachments: list[dict[str, Any]]
    tool: dict[str, Any] | None
    execution_id: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    created_at: datetime

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at,
            "attachments": self.attachments,
            "execution_id": self.execution_id,
        }
        if self.tool is not None:
            body["tool"] = self.tool
        if self.prompt_tokens is not None or self.completion_tokens is not None:
            body["usage"] = {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }
        return body


_SESSION_FIELDS = tuple(column.name for column in ChatSessionRow.__table__.columns)
_MESSAGE_FIELDS = tuple(column.name for column in ChatMessageRow.__table__.columns)


class ChatValueUnreadable(Exception):
    """A stored chat value that does not decrypt: damaged, tampered with, or encrypted with a key
    that is not configured. `item` names it (e.g. "chat message <id>"); `reason` says why (no
    secrets, no content)."""

    def __init__(self, item: str, reason: str):
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason


# The columns that hold what was said (all are encrypted with the ring on).
MESSAGE_CONTENT, MESSAGE_TOOL = "chat_messages.content", "chat_messages.tool"
SESSION_TITLE, SESSION_STATE = "chat_sessions.title", "chat_sessions.state"


class ChatRepository:
    """Sessions and messages; with an enabled `ring`, what was said is encrypted (module doc).
    Reads raise `ChatValueUnreadable` for a value that does not decrypt."""

    def __init__(self, engine: AsyncEngine, ring: KeyRing | None = None):
        self._engine = engine
        self._ring = ring or KeyRing()

    def _session(self, row: Any) -> ChatSession:
        values = {name: getattr(row, name) for name in _SESSION_FIELDS}
        try:
            values["title"] = open_text(self._ring, values["title"], SESSION_TITLE, row.id)
            values["state"] = open_json(self._ring, values["state"], SESSION_STATE, row.id) or {}
        except DecryptionError as exc:
            raise ChatValueUnreadable(f"chat session {row.id}", str(exc)) from None
        return ChatSession(**values)

    def _message(self, row: Any) -> ChatMessage:
        values = {name: getattr(row, name) for name in _MESSAGE_FIELDS}
        values["attachments"] = values["attachments"] or []
        try:
            values["content"] = open_text(self._ring, values["content"], MESSAGE_CONTENT, row.id)
            values["tool"] = open_json(self._ring, values["tool"], MESSAGE_TOOL, row.id)
        except DecryptionError as exc:
            raise ChatValueUnreadable(f"chat message {row.id}", str(exc)) from None
        return ChatMessage(**values)

    def _message_row(self, message: ChatMessage) -> dict[str, Any]:
        row = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
        row["content"] = seal_text(self._ring, message.content, MESSAGE_CONTENT, message.id)
        row["tool"] = seal_json(self._ring, message.tool, MESSAGE_TOOL, message.id)
        return row

    async def create_session(
        self, *, owner_id: str, workflow: str, target_kind: str, title: str
    ) -> ChatSession:
        now = utcnow()
        session = ChatSession(
            id=new_id(),
            owner_id=owner_id,
            workflow=workflow,
            target_kind=target_kind,
            title=title[:200],
            state={},
            message_count=0,
            created_at=now,
            updated_at=now,
        )
        row = {name: getattr(session, name) for name in _SESSION_FIELDS}
        row["title"] = seal_text(self._ring, session.title, SESSION_TITLE, session.id)
        row["state"] = seal_json(self._ring, session.state, SESSION_STATE, session.id)
        async with self._engine.begin() as connection:
            await connection.execute(insert(ChatSessionRow).values(**row))
        return session

    async def get_session(self, session_id: str) -> ChatSession | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                select(ChatSessionRow).where(ChatSessionRow.id == session_id)
            )
            row = result.first()
        return self._session(row) if row is not None else None

    async def session_owner(self, session_id: str) -> str | None:
        """The owner of the session (None: no such session), without decrypting anything: a
        session whose stored values are damaged can still be deleted."""
        query = select(ChatSessionRow.owner_id).where(ChatSessionRow.id == session_id)
        async with self._engine.connect() as connection:
            owner: str | None = (await connection.execute(query)).scalar_one_or_none()
        return owner

    async def list_sessions(self, owner_id: str | None, limit: int) -> list[ChatSession]:
        """Most recently active first; `owner_id=None` lists everyone's."""
        query = select(ChatSessionRow)
        if owner_id is not None:
            query = query.where(ChatSessionRow.owner_id == owner_id)
        query = query.order_by(ChatSessionRow.updated_at.desc(), ChatSessionRow.id).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [self._session(row) for row in rows]

    async def delete_session(self, session_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(ChatMessageRow).where(ChatMessageRow.session_id == session_id)
            )
            await connection.execute(delete(ChatSessionRow).where(ChatSessionRow.id == session_id))

    async def append(
        self,
        session_id: str,
        messages: list[NewMessage],
        state: dict[str, Any] | None = None,
    ) -> list[ChatMessage]:
        """Append messages in order (and optionally replace the session's state), atomically;
        nothing when the session no longer exists."""
        now = utcnow()
        values: dict[str, Any] = {
            "message_count": ChatSessionRow.message_count + len(messages),
            "updated_at": now,
        }
        if state is not None:
            values["state"] = seal_json(self._ring, state, SESSION_STATE, session_id)
        statement = (
            update(ChatSessionRow)
            .where(ChatSessionRow.id == session_id)
            .values(**values)
            .returning(ChatSessionRow.message_count)
        )
        async with self._engine.begin() as connection:
            count = (await connection.execute(statement)).scalar_one_or_none()
            if count is None:
                return []  # the session was deleted meanwhile
            stored = [
                ChatMessage(
                    id=new_id(),
                    session_id=session_id,
                    position=count - len(messages) + index,
                    role=message.role,
                    content=message.content,
                    attachments=message.attachments,
                    tool=message.tool,
                    execution_id=message.execution_id,
                    prompt_tokens=message.prompt_tokens,
                    completion_tokens=message.completion_tokens,
                    created_at=now,
                )
                for index, message in enumerate(messages)
            ]
            if stored:
                rows = [self._message_row(message) for message in stored]
                await connection.execute(insert(ChatMessageRow), rows)
        return stored

    async def history(self, session_id: str, limit: int | None = None) -> list[ChatMessage]:
        """The last `limit` messages (all when None), oldest first."""
        query = select(ChatMessageRow).where(ChatMessageRow.session_id == session_id)
        query = query.order_by(ChatMessageRow.position.desc())
        if limit is not None:
            query = query.limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [self._message(row) for row in reversed(rows)]
