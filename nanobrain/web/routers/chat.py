"""Chat: a message in, a reply out (whole, or streamed as SSE), and the sessions' history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from nanobrain.core.user import User
from nanobrain.security.policy import EXECUTE, READ
from nanobrain.web.body import JSONBody
from nanobrain.web.chat_turns import as_response, finished_reply, request_id, turn_stream
from nanobrain.web.deps import require, while_allowed
from nanobrain.web.responses import JSON
from nanobrain.web.state import app_state
from nanobrain.web.streaming import event_stream, resume_point, stream_slot

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=100_000)
    session_id: str | None = Field(default=None, max_length=64)
    workflow: str | None = Field(default=None, max_length=200)
    attachments: list[str] = Field(default_factory=list, max_length=20)


class ChatReply(BaseModel):
    session_id: str
    message_id: str
    reply: str
    execution_id: str
    usage: dict[str, int] | None = None


class ChatMessageBody(BaseModel):
    id: str
    role: str
    content: str
    created_at: str
    attachments: list[dict[str, Any]] = []
    execution_id: str | None = None
    tool: dict[str, Any] | None = None
    usage: dict[str, int | None] | None = None


class ChatSessionBody(BaseModel):
    session_id: str
    workflow: str
    kind: str
    title: str
    message_count: int
    created_at: str
    updated_at: str


_CHAT_BODY = JSONBody(ChatRequest)


@router.post("/chat", response_model=ChatReply, openapi_extra=_CHAT_BODY.openapi)
async def chat(request: Request, user: User = Depends(require(EXECUTE))) -> Response:
    state = app_state(request)
    body = await _CHAT_BODY.read(request)
    turn = await state.chat.send(
        user,
        body.message,
        session_id=body.session_id,
        workflow=body.workflow,
        attachments=body.attachments,
        request_id=request_id(request),
    )
    return as_response(*await finished_reply(state, turn, user))


@router.post(
    "/chat/stream",
    openapi_extra=_CHAT_BODY.openapi,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the turn's events"}},
)
async def chat_stream(request: Request, user: User = Depends(require(EXECUTE))) -> Response:
    """Start a turn and stream its events. Sent again with `Last-Event-ID` and the session, it
    resumes the session's latest turn after that event instead of starting another."""
    state = app_state(request)
    body = await _CHAT_BODY.read(request)
    slot = await stream_slot(request, user)  # before the turn starts: a refusal starts nothing
    try:
        if request.headers.get("last-event-id") is not None and body.session_id is not None:
            execution_id = await state.chat.latest_turn(body.session_id, user)
            record = await state.executions.get(execution_id, user)
            batches = state.executions.event_batches(record, resume_point(request))
            headers = {"X-Session-ID": body.session_id, "X-Execution-ID": record.id}
            return event_stream(request, while_allowed(request, record, batches), headers, slot)
        turn = await state.chat.send(
            user,
            body.message,
            session_id=body.session_id,
            workflow=body.workflow,
            attachments=body.attachments,
            request_id=request_id(request),
        )
    except BaseException:
        slot.release()
        raise
    return turn_stream(request, turn, slot)


@router.get("/chat/history", response_model=list[ChatMessageBody])
async def history(
    request: Request,
    session_id: str = Query(max_length=64),
    limit: int | None = Query(default=None, ge=1, le=10_000),
    user: User = Depends(require(READ)),
) -> Response:
    messages = await app_state(request).chat.history(session_id, user, limit)
    return JSON([message.public() for message in messages])


@router.get("/chat/sessions", response_model=list[ChatSessionBody])
async def sessions(
    request: Request,
    limit: int = Query(default=50, ge=1, le=1000),
    user: User = Depends(require(READ)),
) -> Response:
    found = await app_state(request).chat.sessions(user, limit)
    return JSON([session.public() for session in found])


@router.delete("/chat/sessions/{session_id}", status_code=204)
async def delete_session(
    session_id: str, request: Request, user: User = Depends(require(EXECUTE))
) -> Response:
    await app_state(request).chat.delete(session_id, user)
    return Response(status_code=204)
