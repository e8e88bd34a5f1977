"""A chat turn's answer over HTTP: wait for it and shape the reply or the problem, or stream it.
Shared by the chat router and the agents' router (an agent's run is a chat turn)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.user import User
from nanobrain.runtime.chat import Turn
from nanobrain.runtime.outages import RETRY_AFTER_SECONDS
from nanobrain.web.deps import while_allowed
from nanobrain.web.responses import JSON, problem
from nanobrain.web.state import AppState, app_state
from nanobrain.web.stream_caps import StreamSlot
from nanobrain.web.streaming import event_stream

WAIT_GRACE_SECONDS = 1.0
_FAILURE_STATUS = {
    "timeout": 504,
    "exception": 500,
    "interrupted": 503,
    "unavailable": 503,  # the database or Redis was out during the turn
    "chat_unreadable": 500,
}


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
