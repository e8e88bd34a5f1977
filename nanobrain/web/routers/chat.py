"""Chat: a message in, a reply out (whole, or streamed as SSE), and the sessions' history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from nanobrain.core.user import User
from nanobrain.runtime.chat import Turn
from nanobrain.runtime.outages import RETRY_AFTER_SECONDS
from nanobrain.security.policy import EXECUTE, READ
from nanobrain.store.executions import ExecutionStatus
from nanobrain.web.body import M, read_model
from nanobrain.web.deps import require, while_allowed
from nanobrain.web.responses import JSON, problem
from nanobrain.web.state import AppState, app_state
from nanobrain.web.stream_caps import StreamSlot
from nanobrain.web.streaming import event_stream, resume_point, stream_slot

router = APIRouter(tags=["chat"])
WAIT_GRACE_SECONDS = 1.0
_FAILURE_STATUS = {
    "timeout": 504,
    "exception": 500,
    "interrupted": 503,
    "unavailable": 503,  # the database or Redis was out during the turn
    "chat_unreadable": 500,
}


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


async def parse(request: Request, model: type[M]) -> M:
    return await read_model(request, model, app_state(request).settings.web_interface.limits)


def request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


async def finished_reply(state: AppState, turn: Turn, user: User) -> tuple[int, dict[str, Any]]:
    """Wait for the turn; the reply body, or the problem's status and body."""
    spec = state.chat.target(turn.session.workflow, user)
    timeout = spec.timeout or state.settings.runtime.default_timeout_seconds
    record = await state.executions.wait(turn.execution, timeout + WAIT_GRACE_SECONDS)
    common = {"session_id": turn.session.id, "execution_id": record.id}
    if record.status is ExecutionStatus.SUCCEEDED:
        reply = await state.chat.reply(turn.session.id, record.id)
        if reply is None:
            return 404, {**common, "detail": "the session was deleted during the turn"}
        usage = None
        if reply.prompt_tokens is not None or reply.completion_tokens is not None:
            prompt, completion = reply.prompt_tokens or 0, reply.completion_tokens or 0
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return 200, {**common, "message_id": reply.id, "reply": reply.content, "usage": usage}
    if not record.status.final:
        return 504, {**common, "detail": "the reply is still being written; follow its events"}
    error = record.error or {"type": record.status.value, "message": "the turn was cancelled"}
    status = _FAILURE_STATUS.get(
        error.get("type", ""), 409 if record.status is ExecutionStatus.CANCELLED else 422
    )
    return status, {**common, "detail": error.get("message", "the turn failed"), "error": error}


def as_response(status: int, body: dict[str, Any]) -> Response:
    if status == 200:
        return JSON(body)
    detail = body.pop("detail")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return problem(status, detail, headers=headers, **body)


def turn_stream(request: Request, turn: Turn, slot: StreamSlot) -> Response:
    batches = app_state(request).executions.event_batches(turn.execution, 0)
    headers = {"X-Session-ID": turn.session.id, "X-Execution-ID": turn.execution.id}
    return event_stream(request, while_allowed(request, turn.execution, batches), headers, slot)


@router.post("/chat", response_model=ChatReply)
async def chat(request: Request, user: User = Depends(require(EXECUTE))) -> Response:
    state = app_state(request)
    body: ChatRequest = await parse(request, ChatRequest)
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
    responses={200: {"content": {"text/event-stream": {}}, "description": "the turn's events"}},
)
async def chat_stream(request: Request, user: User = Depends(require(EXECUTE))) -> Response:
    """Start a turn and stream its events. Sent again with `Last-Event-ID` and the session, it
    resumes the session's latest turn after that event instead of starting another."""
    state = app_state(request)
    body: ChatRequest = await parse(request, ChatRequest)
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
