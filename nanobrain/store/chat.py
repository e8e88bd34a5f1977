"""Chat sessions and their messages: who talked to which workflow or agent, and what was said."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.store.executions import new_id, utcnow
from nanobrain.store.models import ChatMessageRow, ChatSessionRow

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


def _session(row: Any) -> ChatSession:
    values = {name: getattr(row, name) for name in _SESSION_FIELDS}
    values["state"] = values["state"] or {}
    return ChatSession(**values)


def _message(row: Any) -> ChatMessage:
    values = {name: getattr(row, name) for name in _MESSAGE_FIELDS}
    values["attachments"] = values["attachments"] or []
    return ChatMessage(**values)


class ChatRepository:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

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
        async with self._engine.begin() as connection:
            await connection.execute(insert(ChatSessionRow).values(**row))
        return session

    async def get_session(self, session_id: str) -> ChatSession | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                select(ChatSessionRow).where(ChatSessionRow.id == session_id)
            )
            row = result.first()
        return _session(row) if row is not None else None

    async def list_sessions(self, owner_id: str | None, limit: int) -> list[ChatSession]:
        """Most recently active first; `owner_id=None` lists everyone's."""
        query = select(ChatSessionRow)
        if owner_id is not None:
            query = query.where(ChatSessionRow.owner_id == owner_id)
        query = query.order_by(ChatSessionRow.updated_at.desc(), ChatSessionRow.id).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_session(row) for row in rows]

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
            values["state"] = state
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
                rows = [{name: getattr(m, name) for name in _MESSAGE_FIELDS} for m in stored]
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
        return [_message(row) for row in reversed(rows)]
