"""OpenAI-compatible endpoints at `/v1`, so OpenAI clients and chat UIs (Open WebUI, LibreChat)
talk to NanoBrain unchanged: a `model` is a chat workflow or an agent, and a completion is one
stateless chat turn carrying the request's earlier messages as the history.

A `session_id` in the body (the openai client's `extra_body`) makes the completion a turn of
that NanoBrain chat session instead (its stored history, not the request's earlier messages),
through the same `ChatService.send` as `/chat`: only the session's owner may add to it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette import ServerSentEvent
from starlette.responses import Response

from nanobrain.core.execution import ExecutionRecord
from nanobrain.core.user import User
from nanobrain.runtime.errors import NotFound, RuntimeProblem
from nanobrain.runtime.events.base import Event, StreamLagged
from nanobrain.runtime.runner import reply_text
from nanobrain.security.policy import EXECUTE, READ
from nanobrain.web.body import read_json
from nanobrain.web.deps import require, while_allowed
from nanobrain.web.problems import ProblemError, outage
from nanobrain.web.responses import JSON, dumps
from nanobrain.web.state import AppState, app_state
from nanobrain.web.stream_caps import UNCOUNTED
from nanobrain.web.streaming import CountedEventSource, stream_slot

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # sampling options we do not use are ignored

    model: str = Field(max_length=200)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    session_id: str | None = Field(default=None, max_length=64)  # a NanoBrain chat session


def openai_error(status: int, message: str, kind: str, code: str | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSON(body, status_code=status)


def _text(content: Any) -> str:
    """A message's content: a string, or a list of parts of which the text ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _conversation(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The last user message, and everything before it as history."""
    if messages[-1].get("role") != "user":
        raise ValueError("the last message must have the role `user`")
    history = [
        {"role": message.get("role"), "content": _text(message.get("content"))}
        for message in messages[:-1]
        if message.get("role") in ("system", "user", "assistant")
    ]
    return _text(messages[-1].get("content")), history


@router.get("/models")
async def models(request: Request, user: User = Depends(require(READ))) -> Response:
    targets = app_state(request).chat.chat_targets(user)
    return JSON(
        {
            "object": "list",
            "data": [
                {"id": spec.name, "object": "model", "created": 0, "owned_by": "nanobrain"}
                for spec in targets
            ],
        }
    )


@router.post("/chat/completions")
async def chat_completions(request: Request, user: User = Depends(require(EXECUTE))) -> Response:
    state = app_state(request)
    limits = state.settings.web_interface.limits
    try:
        payload = await read_json(request, limits)
        body = ChatCompletionRequest.model_validate(payload)
        message, history = _conversation(body.messages)
    except (ValidationError, ValueError) as exc:
        return openai_error(400, str(exc), "invalid_request_error")
    except RuntimeProblem as exc:
        return openai_error(exc.status, exc.detail, "invalid_request_error")
    if body.session_id is not None:
        try:
            await state.chat.check_turn(body.session_id, user)
        except RuntimeProblem as exc:
            code = "session_not_found" if exc.status == 404 else None
            return openai_error(exc.status, exc.detail, "invalid_request_error", code)
    slot = UNCOUNTED
    if body.stream:  # before the turn starts: a refusal starts nothing
        try:
            slot = await stream_slot(request, user)
        except ProblemError as exc:
            refused = openai_error(429, exc.detail, "rate_limit_error", "too_many_streams")
            refused.headers.update(exc.headers or {})
            return refused
    try:
        if body.session_id is not None:
            turn = await state.chat.send(
                user, message, session_id=body.session_id, workflow=body.model
            )
            record = turn.execution
        else:
            spec = state.chat.target(body.model, user)
            record = await state.executions.submit(
                spec, {"message": message}, user, history=history, durable=False
            )
    except NotFound:
        slot.release()
        return openai_error(
            404,
            f"the model {body.model!r} does not exist",
            "invalid_request_error",
            "model_not_found",
        )
    except Exception as exc:
        slot.release()
        return _refused(exc)
    except BaseException:
        slot.release()
        raise
    completion_id = f"chatcmpl-{record.id}"
    events = _events(while_allowed(request, record, state.executions.event_batches(record, 0)))
    if body.stream:
        usage = bool((body.stream_options or {}).get("include_usage"))
        chunks = _chunks(events, completion_id, body.model, usage)
        ping = state.settings.realtime.sse_ping_seconds
        return CountedEventSource(chunks, ping=ping, slot=slot)
    try:
        return await _whole(events, completion_id, body.model, state, record)
    except Exception as exc:
        return _refused(exc)


def _refused(exc: Exception) -> Response:
    """A refusal in OpenAI's error shape: 503 with `Retry-After` (which OpenAI clients honour
    when they retry) while a backing service is out, the problem's status otherwise."""
    described = outage(exc)
    if described is not None:
        response = openai_error(503, described["detail"], "service_unavailable")
        response.headers["Retry-After"] = str(described["retry_after"])
        return response
    if isinstance(exc, RuntimeProblem):
        return openai_error(exc.status, exc.detail, "invalid_request_error")
    raise exc


async def _events(batches: AsyncIterator[list[Event]]) -> AsyncIterator[Event]:
    async for batch in batches:
        for event in batch:
            yield event


async def _whole(
    events: AsyncIterator[Event],
    completion_id: str,
    model: str,
    state: AppState,
    record: ExecutionRecord,
) -> Response:
    complete: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    async for event in events:
        if event.type == "complete":
            complete = event.data
        elif event.type == "error":
            error = event.data
    if complete is None:
        message = (error or {}).get("message", f"the turn ended {record.status.value}")
        return openai_error(500, message, "server_error", (error or {}).get("type"))
    return JSON(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": complete["content"]},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(complete),
        }
    )


def _usage(complete: dict[str, Any]) -> dict[str, int]:
    usage = complete.get("usage") or {}
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _chunks(
    events: AsyncIterator[Event], completion_id: str, model: str, include_usage: bool
) -> AsyncIterator[ServerSentEvent]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return ServerSentEvent(data=dumps(body).decode())

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for event in events:
            if event.type == "chunk":
                yield chunk({"content": reply_text(event.data.get("delta", ""))})
            elif event.type == "complete":
                yield chunk({}, "stop")
                if include_usage:
                    usage = ServerSentEvent(
                        data=dumps(
                            {
                                "id": completion_id,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": model,
                                "choices": [],
                                "usage": _usage(event.data),
                            }
                        ).decode()
                    )
                    yield usage
            elif event.type == "error":
                error = {"message": event.data.get("message", "failed"), "type": "server_error"}
                yield ServerSentEvent(data=dumps({"error": error}).decode())
    except StreamLagged as exc:
        yield ServerSentEvent(
            data=dumps({"error": {"message": str(exc), "type": "lagged"}}).decode()
        )
    except Exception as exc:
        described = outage(exc)
        if described is None:
            raise
        error = {"message": described["detail"], "type": "service_unavailable"}
        yield ServerSentEvent(data=dumps({"error": error}).decode())
    yield ServerSentEvent(data="[DONE]")
