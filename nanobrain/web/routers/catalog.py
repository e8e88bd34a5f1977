"""Tools and agents: listing, capabilities, and tool execution through the execution path."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from nanobrain.core.agent import Agent
from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.spec import Runnable
from nanobrain.core.user import User
from nanobrain.runtime.errors import NotFound
from nanobrain.runtime.outages import RETRY_AFTER_SECONDS
from nanobrain.security.policy import EXECUTE, READ
from nanobrain.web.body import JSONBody
from nanobrain.web.chat_turns import as_response, finished_reply, request_id, turn_stream
from nanobrain.web.deps import require
from nanobrain.web.responses import JSON, problem
from nanobrain.web.schemas import (
    AgentCapabilities,
    AgentInfo,
    ToolExecuteRequest,
    ToolInfo,
    ToolResult,
)
from nanobrain.web.state import app_state
from nanobrain.web.streaming import stream_slot

router = APIRouter(tags=["agents and tools"])

AGENT_INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "input": {"type": "string", "description": "the message for the agent"},
        "session_id": {"type": "string"},
        "stream": {"type": "boolean", "default": False},
    },
    "required": ["input"],
}
_FAILURE_STATUS = {"timeout": 504, "exception": 500, "interrupted": 503, "unavailable": 503}


def tool_info(spec: Runnable) -> dict[str, Any]:
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "input_schema": spec.input_schema,
        "output_schema": spec.output_schema,
    }


@router.get("/tools", response_model=list[ToolInfo])
async def list_tools(request: Request, user: User = Depends(require(READ))) -> Response:
    tools = app_state(request).registry.tools.values()
    return JSON([tool_info(spec) for spec in tools if spec.allows(user.role)])


@router.get("/tools/{name}/info", response_model=ToolInfo)
async def get_tool(name: str, request: Request, user: User = Depends(require(READ))) -> Response:
    return JSON(tool_info(app_state(request).executions.runnable("tool", name, user)))


_TOOL_BODY = JSONBody(ToolExecuteRequest)


@router.post("/tools/{name}/execute", response_model=ToolResult, openapi_extra=_TOOL_BODY.openapi)
async def execute_tool(
    name: str, request: Request, user: User = Depends(require(EXECUTE))
) -> Response:
    state = app_state(request)
    spec = state.executions.runnable("tool", name, user)
    body = await _TOOL_BODY.read(request)
    record = await state.executions.submit(spec, body.arguments, user, durable=False, run_here=True)
    state.security.audit.record(
        "execution.start", request, actor=user, target=record.id, tool=spec.name
    )
    record = await state.executions.wait(record, state.executions.timeout_for(spec))
    if record.status is ExecutionStatus.SUCCEEDED:
        return JSON({"result": record.output, "execution_id": record.id})
    error = record.error or {
        "type": record.status.value,
        "message": f"the tool run ended {record.status.value}",
    }
    status = _FAILURE_STATUS.get(
        error.get("type", ""), 409 if record.status is ExecutionStatus.CANCELLED else 422
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return problem(
        status,
        error.get("message", "the tool failed"),
        headers=headers,
        execution_id=record.id,
        error=error,
    )


def _agent(request: Request, name: str, user: User) -> Agent:
    agent = app_state(request).registry.agents.get(name)
    if agent is None or (
        agent.roles is not None and user.role not in agent.roles and user.role != "admin"
    ):
        raise NotFound(f"no agent named {name!r}")
    return agent


@router.get("/agents", response_model=list[AgentInfo])
async def list_agents(request: Request, user: User = Depends(require(READ))) -> Response:
    agents = app_state(request).registry.agents.values()
    return JSON(
        [
            {"name": agent.name, "description": agent.description, "tools": list(agent.tool_names)}
            for agent in agents
            if agent.roles is None or user.role in agent.roles or user.role == "admin"
        ]
    )


@router.get("/agents/{name}/capabilities", response_model=AgentCapabilities)
async def agent_capabilities(
    name: str, request: Request, user: User = Depends(require(READ))
) -> Response:
    agent = _agent(request, name, user)
    tools = app_state(request).registry.tools
    return JSON(
        {
            "name": agent.name,
            "description": agent.description,
            "instructions": agent.instructions,
            "tools": [
                tool_info(tools[tool]) for tool in agent.tool_names if tools[tool].allows(user.role)
            ],
            "input_schema": AGENT_INPUT_SCHEMA,
            "streaming": True,
        }
    )


class ProcessRequest(BaseModel):
    input: str = Field(min_length=1, max_length=100_000)
    session_id: str | None = Field(default=None, max_length=64)
    stream: bool = False


_PROCESS_BODY = JSONBody(ProcessRequest)


@router.post(
    "/agents/{name}/process",
    openapi_extra=_PROCESS_BODY.openapi,
    responses={200: {"content": {"text/event-stream": {}}, "description": "with `stream`"}},
)
async def process(name: str, request: Request, user: User = Depends(require(EXECUTE))) -> Response:
    """Send the agent a message: its answer, or with `stream` its events (tokens, `tool_call`,
    `tool_result`, `complete`). A `session_id` continues that conversation."""
    state = app_state(request)
    _agent(request, name, user)
    body = await _PROCESS_BODY.read(request)
    slot = await stream_slot(request, user) if body.stream else None  # before the turn starts
    try:
        turn = await state.chat.send(
            user,
            body.input,
            session_id=body.session_id,
            workflow=name,
            request_id=request_id(request),
        )
    except BaseException:
        if slot is not None:
            slot.release()
        raise
    if slot is not None:
        return turn_stream(request, turn, slot)
    status, reply = await finished_reply(state, turn, user)
    if status == 200:
        reply["output"] = reply.pop("reply")
    return as_response(status, reply)
