"""Chat: sessions of turns with a chat workflow or an agent, each turn one execution.

A turn stores the user's message, then submits the session's workflow with `message` (and the
attachments, for a workflow that takes them) under an execution id chosen beforehand, so the
message and the execution name each other. The runner calls back here (`open_turn`,
`close_turn`) to hand the workflow the history and state (`ctx.history`, `ctx.session`) and to
store the reply with its token usage before announcing it with `complete`.

A stored value that does not decrypt (damaged, or under a key that is not configured) is a
`ChatUnreadable` problem naming the session or message, its reason logged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from nanobrain.core.context import Context
from nanobrain.core.execution import ExecutionRecord
from nanobrain.core.ids import new_id
from nanobrain.core.spec import Runnable
from nanobrain.core.user import User
from nanobrain.runtime.errors import (
    ChatUnreadable,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    validation_errors,
)
from nanobrain.runtime.files import can_see_all
from nanobrain.runtime.service import ExecutionService
from nanobrain.store.chat import (
    ChatMessage,
    ChatRepository,
    ChatSession,
    ChatValueUnreadable,
    NewMessage,
)

log = logging.getLogger(__name__)
HISTORY_LIMIT = 200  # messages a turn sees
ATTACHMENTS = "attachments"


@contextlib.contextmanager
def readable() -> Iterator[None]:
    """Turn a stored chat value that does not decrypt into a `ChatUnreadable` problem."""
    try:
        yield
    except ChatValueUnreadable as exc:
        log.error("%s cannot be read: %s", exc.item, exc.reason)
        raise ChatUnreadable(
            f"{exc.item} cannot be read: it is damaged, or encrypted with a key this server "
            "does not have; the reason is logged"
        ) from None


@dataclass(slots=True)
class Turn:
    session: ChatSession
    created: bool  # the turn started the session
    message: ChatMessage  # the user's message
    execution: ExecutionRecord


class ChatService:
    def __init__(
        self, repository: ChatRepository, executions: ExecutionService, default_workflow: str
    ):
        self.repository = repository
        self.executions = executions
        self.default_workflow = default_workflow
        executions.runner.chat = self
        # Every execution that names a session (a turn from /chat, the WebSocket, /v1 or MCP,
        # or any workflow run with a `session_id`) reads and extends that session: only its
        # owner may do that, whichever way the request came in.
        executions.admission.session_check = self.check_turn

    # -- targets and sessions ------------------------------------------------------------------
    def target(self, name: str | None, user: User) -> Runnable:
        """The chat workflow or agent named `name` (the default chat workflow when None)."""
        name = name or self.default_workflow
        table = self.executions.runnables
        spec = table["workflow"].get(name) or table["agent"].get(name)
        if spec is None or not spec.allows(user.role):
            raise NotFound(f"no chat workflow or agent named {name!r}")
        if spec.mode != "chat":
            raise InvalidInput(
                f"{name!r} is a {spec.mode} workflow, not a chat workflow; run it with "
                "POST /workflows/execute",
                [{"loc": ["body", "workflow"], "msg": "not a chat workflow", "type": "mode"}],
            )
        return spec

    def chat_targets(self, user: User) -> list[Runnable]:
        table = self.executions.runnables
        return [
            spec
            for spec in [*table["workflow"].values(), *table["agent"].values()]
            if spec.mode == "chat" and spec.allows(user.role)
        ]

    async def session(self, session_id: str, user: User) -> ChatSession:
        with readable():
            try:
                found = (
                    await self.repository.get_session(session_id) if session_id.isalnum() else None
                )
            except ChatValueUnreadable:
                await self._visible(session_id, user)  # another's damaged session: not found
                raise
        if found is None or (found.owner_id != user.id and not can_see_all(user)):
            raise NotFound(f"no chat session {session_id!r}")
        return found

    async def _visible(self, session_id: str, user: User) -> None:
        """Raise `NotFound` unless the session exists and `user` may see it (nothing is
        decrypted, so a damaged session can still be deleted)."""
        owner = await self.repository.session_owner(session_id) if session_id.isalnum() else None
        if owner is None or (owner != user.id and not can_see_all(user)):
            raise NotFound(f"no chat session {session_id!r}")

    async def check_turn(self, session_id: str, user: User) -> None:
        """Raise unless `user` may add a turn to the session: its owner only. A role that sees
        other users' sessions may read them (403 here), anyone else does not know them (404)."""
        owner = await self.repository.session_owner(session_id) if session_id.isalnum() else None
        if owner == user.id:
            return
        if owner is None or not can_see_all(user):
            raise NotFound(f"no chat session {session_id!r}")
        raise Forbidden("only its owner may talk in a chat session")

    async def sessions(self, user: User, limit: int) -> list[ChatSession]:
        with readable():
            return await self.repository.list_sessions(
                None if can_see_all(user) else user.id, limit
            )

    async def history(self, session_id: str, user: User, limit: int | None) -> list[ChatMessage]:
        await self._visible(session_id, user)
        with readable():
            return await self.repository.history(session_id, limit)

    async def reply(self, session_id: str, execution_id: str) -> ChatMessage | None:
        """The assistant's message of the turn `execution_id` (None: the session is gone)."""
        with readable():
            messages = await self.repository.history(session_id, 20)
        return next(
            (
                m
                for m in reversed(messages)
                if m.role == "assistant" and m.execution_id == execution_id
            ),
            None,
        )

    async def delete(self, session_id: str, user: User) -> None:
        """Delete one's own session, or anyone's with `admin` (`write` only sees them)."""
        owner = await self.repository.session_owner(session_id) if session_id.isalnum() else None
        if owner is None or (owner != user.id and not can_see_all(user)):
            raise NotFound(f"no chat session {session_id!r}")
        if owner != user.id and not user.can("admin"):
            raise Forbidden("only its owner or an admin may delete this chat session")
        await self.repository.delete_session(session_id)  # nothing decrypted: a damaged one too

    # -- turns ---------------------------------------------------------------------------------
    async def send(
        self,
        user: User,
        message: str,
        *,
        session_id: str | None = None,
        workflow: str | None = None,
        attachments: list[str] | None = None,
        request_id: str | None = None,
    ) -> Turn:
        """Store the user's message and start the turn that answers it."""
        created = session_id is None
        session: ChatSession | None = None
        if session_id is not None:
            await self.check_turn(session_id, user)
            session = await self.session(session_id, user)
            if workflow is not None and workflow != session.workflow:
                raise Conflict(
                    f"session {session.id} talks to {session.workflow!r}, not {workflow!r}; "
                    "start a new session to talk to another"
                )
            spec = self.target(session.workflow, user)
        else:
            spec = self.target(workflow, user)
        arguments: dict[str, Any] = {"message": message}
        files = await self._attachments(attachments or [], spec, user)
        if files:
            arguments[ATTACHMENTS] = [file["file_id"] for file in files]
        try:
            spec.input_model.model_validate(arguments)  # refuse before anything is stored
        except ValidationError as exc:
            raise InvalidInput(
                "the message does not fit the chat workflow's input",
                validation_errors(exc, ("body",)),
            ) from exc
        if session is None:
            session = await self.repository.create_session(
                owner_id=user.id, workflow=spec.name, target_kind=spec.kind, title=message[:80]
            )
        execution_id = new_id()
        appended = await self.repository.append(
            session.id,
            [NewMessage("user", message, attachments=files, execution_id=execution_id)],
        )
        if not appended:
            raise NotFound(f"no chat session {session.id!r}")
        stored = appended[0]
        record = await self.executions.submit(
            spec,
            arguments,
            user,
            session_id=session.id,
            request_id=request_id,
            execution_id=execution_id,
        )
        return Turn(session, created, stored, record)

    async def _attachments(
        self, file_ids: list[str], spec: Runnable, user: User
    ) -> list[dict[str, Any]]:
        if not file_ids:
            return []
        if ATTACHMENTS not in spec.file_fields:
            raise InvalidInput(
                f"{spec.name!r} does not take attachments",
                [{"loc": ["body", ATTACHMENTS], "msg": "not accepted", "type": "attachments"}],
            )
        files = []
        for index, file_id in enumerate(file_ids):
            try:
                record = await self.executions.files.get(file_id, user)
            except NotFound as exc:
                raise InvalidInput(
                    f"unknown file_id {file_id!r}",
                    [{"loc": ["body", ATTACHMENTS, index], "msg": "unknown file", "type": "file"}],
                ) from exc
            files.append({"file_id": record.id, "filename": record.filename, "size": record.size})
        return files

    async def latest_turn(self, session_id: str, user: User) -> str:
        """The execution id of the session's latest turn (to resume its stream)."""
        for message in reversed(await self.history(session_id, user, 5)):
            if message.role == "user" and message.execution_id:
                return message.execution_id
        raise NotFound(f"chat session {session_id!r} has no turn to resume")

    # -- the runner's hooks ----------------------------------------------------------------------
    async def open_turn(
        self, record: ExecutionRecord
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        assert record.session_id is not None
        with readable():
            session = await self.repository.get_session(record.session_id)
            if session is None:
                return [], {}
            messages = await self.repository.history(session.id, HISTORY_LIMIT)
        history = [
            {
                "role": message.role,
                "content": message.content,
                **({"tool": message.tool} if message.tool else {}),
            }
            for message in messages
            if message.execution_id != record.id or message.role != "user"
        ]
        return history, dict(session.state)

    async def close_turn(
        self, record: ExecutionRecord, context: Context, reply: str, usage: dict[str, int] | None
    ) -> dict[str, Any]:
        assert record.session_id is not None
        new = [
            NewMessage(
                "tool",
                item["content"],
                tool=item.get("tool"),
                execution_id=item.get("execution_id") or record.id,
            )
            for item in context.transcript
        ]
        new.append(
            NewMessage(
                "assistant",
                reply,
                execution_id=record.id,
                prompt_tokens=usage["prompt_tokens"] if usage else None,
                completion_tokens=usage["completion_tokens"] if usage else None,
            )
        )
        stored = await self.repository.append(record.session_id, new, state=context.session)
        data: dict[str, Any] = {
            "session_id": record.session_id,
            "role": "assistant",
            "content": reply,
            "usage": usage,
        }
        if stored:  # not when the session is gone (deleted, or never a chat session)
            data["message_id"] = stored[-1].id
            data["created_at"] = stored[-1].created_at.isoformat().replace("+00:00", "Z")
        return data
