"""Model Context Protocol at `/mcp` (streamable HTTP, the official `mcp` SDK): every tool and
workflow the caller may run is an MCP tool, run through the execution path with the caller's
identity, established by the same `Permission` dependency (the one `Guard`) as every other route,
for each MCP request (the server is stateless: one HTTP request per MCP request).

A chat workflow's tool also takes an optional `session_id`: the call is then a turn of that
chat session, through the same `ChatService.send` as `/chat` (only the session's owner may)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import HTTPConnection, Request
from starlette.types import Message, Receive, Scope, Send

from nanobrain import __version__
from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.spec import Runnable
from nanobrain.core.user import User
from nanobrain.runtime.errors import InvalidInput, RuntimeProblem
from nanobrain.security.policy import EXECUTE
from nanobrain.web.body import parse_json, read_body
from nanobrain.web.deps import Permission, declares
from nanobrain.web.problems import ProblemError, outage
from nanobrain.web.responses import dumps, problem
from nanobrain.web.state import AppState, app_state

USER_KEY = "nanobrain_user"
SESSION = "session_id"
_guard = Permission(EXECUTE)
_SESSION_SCHEMA = {
    "type": "string",
    "maxLength": 64,
    "description": "continue this chat session (one of yours) instead of a stateless turn",
}


def _schema(spec: Runnable) -> dict[str, Any]:
    if spec.mode != "chat":
        return spec.input_schema
    properties = {**spec.input_schema.get("properties", {}), SESSION: _SESSION_SCHEMA}
    return {**spec.input_schema, "properties": properties}


def _runnables(state: AppState, user: User) -> dict[str, Runnable]:
    """MCP tool name -> runnable: tools by name, then workflows (prefixed on a clash)."""
    found = {name: spec for name, spec in state.registry.tools.items() if spec.allows(user.role)}
    for name, spec in state.registry.workflows.items():
        if spec.allows(user.role):
            found[f"workflow-{name}" if name in found else name] = spec
    return found


async def _caller(request: Any) -> tuple[AppState, User]:
    if not isinstance(request, HTTPConnection):
        raise ProblemError(401, "MCP is served over HTTP only")
    user = request.scope.get("state", {}).get(USER_KEY) or await _guard(request)
    return app_state(request), user


async def list_tools(
    ctx: Any, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    state, user = await _caller(ctx.request)
    return types.ListToolsResult(
        tools=[
            types.Tool(
                name=name,
                title=spec.title,
                description=spec.description or spec.title,
                input_schema=_schema(spec),
            )
            for name, spec in _runnables(state, user).items()
        ]
    )


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    state, user = await _caller(ctx.request)
    spec = _runnables(state, user).get(params.name)
    if spec is None:
        return _error(f"there is no tool {params.name!r}")
    service = state.executions
    arguments = dict(params.arguments or {})
    try:
        if spec.mode == "chat" and arguments.get(SESSION) is not None:
            record = await _turn(state, spec, arguments, user)
        else:
            record = await service.submit(spec, arguments, user, durable=False, run_here=True)
        record = await service.wait(record, service.timeout_for(spec))
    except Exception as exc:  # a refusal, or an outage (503: call again after `retry_after`)
        described = outage(exc)
        if described is not None:
            return _error(described.pop("detail"), described)
        if isinstance(exc, RuntimeProblem):
            return _error(exc.detail, {"status": exc.status, **exc.extra})
        raise
    if record.status is not ExecutionStatus.SUCCEEDED:
        error = record.error or {"type": record.status.value, "message": record.status.value}
        return _error(error.get("message", "failed"), {"execution_id": record.id, **error})
    output = record.output
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=dumps(output).decode())],
        structured_content=output if isinstance(output, dict) else {"result": output},
    )


async def _turn(
    state: AppState, spec: Runnable, arguments: dict[str, Any], user: User
) -> ExecutionRecord:
    """A turn of the chat session the arguments name."""
    session_id, message = arguments.pop(SESSION), arguments.pop("message", None)
    attachments = arguments.pop("attachments", None)
    files_ok = attachments is None or (
        isinstance(attachments, list) and all(isinstance(item, str) for item in attachments)
    )
    if not isinstance(session_id, str) or not isinstance(message, str) or arguments or not files_ok:
        raise InvalidInput(
            "a chat turn takes `message` text, a `session_id` and `attachments` (file ids)",
            [{"loc": ["arguments"], "msg": "unexpected arguments", "type": "chat"}],
        )
    turn = await state.chat.send(
        user, message, session_id=session_id, workflow=spec.name, attachments=attachments
    )
    return turn.execution


def _error(message: str, extra: dict[str, Any] | None = None) -> types.CallToolResult:
    text = dumps({"error": message, **(extra or {})}).decode()
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


@declares(EXECUTE)
class MCPApp:
    """The ASGI app mounted at `/mcp`: refuses callers without credentials (401/403 problem,
    before any MCP parsing), then hands the request to the SDK's session manager."""

    def __init__(self) -> None:
        server: Server[Any] = Server(
            "nanobrain", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool
        )
        self.manager = StreamableHTTPSessionManager(server, json_response=True, stateless=True)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            user = await _guard(request)
            if scope["method"] == "POST":
                receive = await _checked_body(request)
        except ProblemError as exc:
            response = problem(exc.status, exc.detail, headers=exc.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[USER_KEY] = user
        await self.manager.handle_request(scope, receive, send)


async def _checked_body(request: Request) -> Receive:
    """The body under the same checks as every JSON body (strict JSON, nesting and string
    limits: 400/413 before the SDK parses it), handed on to the SDK as it came."""
    body = await read_body(request)
    if body.strip():  # an empty body is the SDK's to refuse, in its own words
        parse_json(body, app_state(request).settings.web_interface.limits, "MCP message")
    receive = request.receive
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
