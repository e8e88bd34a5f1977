"""The WebSocket at `/api/v1/ws` (API.md, "WebSocket"): several executions and chat turns on one
socket, each client request answered with its `id` as `request_id`.

Client messages: `auth`, `ping`, `workflow.execute`, `chat.message`, `subscribe`, `cancel`.
Server messages: `ready` (authenticated), `pong`, `session.created`, `execution.created`,
`cancel.accepted`, event envelopes, `error`, and `reconnect` before a drain.

Every refusal closes with a code and a reason:

| code | when |
|---|---|
| 4401 | no valid credentials (`?token=`, or a first `{"type": "auth", "token"}` message in time) |
| 4403 | authenticated, but without the `read` permission |
| 4408 | idle: no message and no live subscription for `realtime.ws_idle_timeout_seconds` |
| 4429 | the principal holds its role's share of open streams (`runtime.fair_share.streams`) |
| 1003 | a binary frame (the protocol is JSON text) |
| 1009 | a message over the size limit (uvicorn's `ws_max_size`) |
| 1012 | the server is restarting: reconnect and resume with `subscribe` + `after` |
| 1013 | the client read too slowly (a send waited `realtime.send_timeout_seconds`) |

A slow client never slows a workflow: events wait in the bus's bounded replay log, each
subscription reads at its own pace, and one that falls out of the log gets an `error` of type
`lagged` instead of a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect, WebSocketState

from nanobrain.core.user import User
from nanobrain.observability.metrics import STREAMS_REFUSED
from nanobrain.runtime.errors import RuntimeProblem, validation_errors
from nanobrain.runtime.events.base import StreamLagged
from nanobrain.security.policy import READ
from nanobrain.store.executions import ExecutionRecord
from nanobrain.web.deps import Permission, declares
from nanobrain.web.problems import ProblemError
from nanobrain.web.responses import dumps
from nanobrain.web.routers.workflows import pick_workflow
from nanobrain.web.schemas import ExecuteRequest
from nanobrain.web.state import AppState, app_state
from nanobrain.web.stream_caps import UNCOUNTED, TooManyStreams
from nanobrain.web.streaming import draining_data, lagged_data

router = APIRouter(tags=["websocket"])
UNAUTHORIZED, FORBIDDEN, IDLE, TOO_MANY_STREAMS = 4401, 4403, 4408, 4429
UNSUPPORTED_DATA, RESTARTING, TOO_SLOW = 1003, 1012, 1013


class Closing(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]  # a close frame's reason is at most 123 bytes


@router.websocket("/ws")
@declares(READ)
async def websocket(ws: WebSocket) -> None:
    await Socket(ws, app_state(ws)).serve()


def _with_token(ws: WebSocket, token: str) -> HTTPConnection:
    """The connection as if the token came as `Authorization: Bearer`, so identity is
    established by the same dependency as on every HTTP route."""
    headers = [(k, v) for k, v in ws.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {token}".encode("latin-1", "replace")))
    return HTTPConnection({**ws.scope, "headers": headers})


class Socket:
    def __init__(self, ws: WebSocket, state: AppState):
        self.ws = ws
        self.state = state
        self.config = state.settings.realtime
        self.user: User | None = None
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._following = 0
        self._closing: asyncio.Future[Closing] = asyncio.get_running_loop().create_future()

    # -- lifecycle -----------------------------------------------------------------------------
    async def serve(self) -> None:
        await self.ws.accept()
        self.state.stream_opened()
        slot = UNCOUNTED
        try:
            self.user = await self._authenticate()
            try:  # counted once its principal is known, before it can start anything
                slot = await self.state.stream_caps.open(self.user)
            except TooManyStreams as exc:
                STREAMS_REFUSED.labels("websocket").inc()
                raise Closing(TOO_MANY_STREAMS, str(exc)) from None
            await self._ready()
            await self._run()
        except Closing as closing:
            await self._close(closing)
        except WebSocketDisconnect:
            pass
        finally:
            slot.release()
            self.state.stream_closed()
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self) -> None:
        reader = asyncio.create_task(self._read())
        draining = asyncio.create_task(self.state.draining.wait())
        try:
            waiting: set[asyncio.Future[Any]] = {reader, draining, self._closing}
            await asyncio.wait(waiting, return_when="FIRST_COMPLETED")
        finally:
            reader.cancel()
            draining.cancel()
        if self._closing.done():
            raise self._closing.result()
        if draining.done() and not draining.cancelled():
            await self._send({"type": "reconnect", "data": draining_data()})
            raise Closing(RESTARTING, "server restarting: reconnect and resume with subscribe")
        reader.result()  # a Closing or disconnect from the reader

    async def _close(self, closing: Closing) -> None:
        if self.ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await self.ws.close(closing.code, closing.reason)

    # -- authentication ------------------------------------------------------------------------
    async def _authenticate(self) -> User:
        token = self.ws.query_params.get("token")
        try:
            return await self._identify(token)
        except Closing:
            if token is not None:
                raise
        try:
            async with asyncio.timeout(self.config.ws_auth_timeout_seconds):
                message = await self._receive()
        except TimeoutError:
            raise Closing(
                UNAUTHORIZED, "authentication required: ?token= or an auth message"
            ) from None
        if message.get("type") != "auth" or not isinstance(message.get("token"), str):
            raise Closing(UNAUTHORIZED, "authentication required: the first message must be auth")
        return await self._identify(message["token"])

    async def _identify(self, token: str | None) -> User:
        connection = self.ws if token is None else _with_token(self.ws, token)
        try:
            return await Permission(READ)(connection)
        except ProblemError as exc:
            raise Closing(FORBIDDEN if exc.status == 403 else UNAUTHORIZED, exc.detail) from exc

    async def _ready(self, request_id: Any = None) -> None:
        assert self.user is not None
        user = {"id": self.user.id, "username": self.user.username, "role": self.user.role}
        await self._send({"type": "ready", "request_id": request_id, "user": user})

    # -- reading -------------------------------------------------------------------------------
    async def _receive(self) -> dict[str, Any]:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            raise Closing(UNSUPPORTED_DATA, "send JSON text frames, not binary")
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            return {"type": None, "invalid": True}
        return data

    async def _read(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.config.ws_idle_timeout_seconds):
                    message = await self._receive()
            except TimeoutError:
                if self._following:
                    continue
                raise Closing(IDLE, "idle timeout") from None
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        kind = message.get("type")
        handler = {
            "ping": self._ping,
            "auth": self._reauthenticate,
            "workflow.execute": self._execute,
            "chat.message": self._chat,
            "subscribe": self._subscribe,
            "cancel": self._cancel,
        }.get(kind if isinstance(kind, str) else "")
        if handler is None:
            detail = "not a JSON object" if message.get("invalid") else f"unknown type {kind!r}"
            self._spawn(self._error(request_id, 400, detail))
            return
        self._spawn(self._guarded(handler, request_id, message))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, handler: Any, request_id: Any, message: dict[str, Any]) -> None:
        """Run one request; its failure is an `error` for that request, not the socket's end."""
        try:
            try:
                await handler(request_id, message)
            except (RuntimeProblem, ProblemError) as exc:
                await self._error(request_id, exc.status, exc.detail, **exc.extra)
            except ValidationError as exc:
                errors = validation_errors(exc)
                await self._error(request_id, 422, "invalid message", errors=errors)
        except Closing as closing:
            if not self._closing.done():
                self._closing.set_result(closing)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # the client is gone; serve() ends with the reader

    # -- writing -------------------------------------------------------------------------------
    async def _send(self, data: dict[str, Any]) -> None:
        payload = dumps(data).decode()
        async with self._send_lock:
            try:
                async with asyncio.timeout(self.config.send_timeout_seconds):
                    await self.ws.send_text(payload)
            except TimeoutError:
                raise Closing(TOO_SLOW, "too slow: resume with subscribe and after") from None

    async def _error(self, request_id: Any, status: int, detail: str, **extra: Any) -> None:
        data = {"status": status, "detail": detail, **extra}
        await self._send({"type": "error", "request_id": request_id, "data": data})

    # -- requests ------------------------------------------------------------------------------
    def _user(self) -> User:
        assert self.user is not None
        return self.user

    async def _ping(self, request_id: Any, message: dict[str, Any]) -> None:
        await self._send({"type": "pong", "request_id": request_id})

    async def _reauthenticate(self, request_id: Any, message: dict[str, Any]) -> None:
        token = message.get("token")
        if not isinstance(token, str):
            raise ProblemError(400, "auth needs a token")
        self.user = await self._identify(token)
        await self._ready(request_id)

    async def _execute(self, request_id: Any, message: dict[str, Any]) -> None:
        body = ExecuteRequest.model_validate(
            {
                key: message[key]
                for key in ("workflow", "input", "query", "session_id")
                if key in message
            }
        )
        user = self._user()
        runnable, routed = pick_workflow(body, self.state, user)
        record = await self.state.executions.submit(
            runnable,
            body.input,
            user,
            session_id=body.session_id,
            routed_from=body.query if routed else None,
        )
        created: dict[str, Any] = {
            "type": "execution.created",
            "request_id": request_id,
            "execution_id": record.id,
            "workflow": record.workflow,
        }
        if routed:
            created["routed_to"] = runnable.name
        await self._send(created)
        await self._follow(record, 0, request_id)

    async def _chat(self, request_id: Any, message: dict[str, Any]) -> None:
        content, session_id = message.get("content"), message.get("session_id")
        workflow, attachments = message.get("workflow"), message.get("attachments") or []
        if not isinstance(content, str) or not content:
            raise ProblemError(422, "chat.message needs `content` text")
        if not all(isinstance(v, str | None) for v in (session_id, workflow)) or not (
            isinstance(attachments, list) and all(isinstance(a, str) for a in attachments)
        ):
            raise ProblemError(422, "session_id and workflow are strings, attachments file ids")
        turn = await self.state.chat.send(
            self._user(),
            content,
            session_id=session_id,
            workflow=workflow,
            attachments=attachments,
        )
        if turn.created:
            await self._send(
                {
                    "type": "session.created",
                    "request_id": request_id,
                    "session_id": turn.session.id,
                    "workflow": turn.session.workflow,
                }
            )
        await self._send(
            {
                "type": "execution.created",
                "request_id": request_id,
                "execution_id": turn.execution.id,
                "session_id": turn.session.id,
                "message_id": turn.message.id,
                "workflow": turn.session.workflow,
            }
        )
        await self._follow(turn.execution, 0, request_id)

    async def _subscribe(self, request_id: Any, message: dict[str, Any]) -> None:
        execution_id, after = message.get("execution_id"), message.get("after", 0)
        if not isinstance(execution_id, str):
            raise ProblemError(422, "subscribe needs an `execution_id`")
        if isinstance(after, str) and after.isdigit():
            after = int(after)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ProblemError(422, "`after` must be an event id (a non-negative integer)")
        record = await self.state.executions.get(execution_id, self._user())
        await self._follow(record, after, request_id)

    async def _cancel(self, request_id: Any, message: dict[str, Any]) -> None:
        execution_id = message.get("execution_id")
        if not isinstance(execution_id, str):
            raise ProblemError(422, "cancel needs an `execution_id`")
        record = await self.state.executions.cancel(execution_id, self._user())
        await self._send(
            {"type": "cancel.accepted", "request_id": request_id, "execution_id": record.id}
        )

    async def _follow(self, record: ExecutionRecord, after: int, request_id: Any) -> None:
        if self._following >= self.config.ws_max_subscriptions:
            raise ProblemError(
                429, f"at most {self.config.ws_max_subscriptions} live subscriptions per socket"
            )
        self._following += 1
        try:
            async for event in self.state.executions.events(record, after):
                envelope = event.envelope()
                envelope["request_id"] = request_id
                await self._send(envelope)
        except StreamLagged as exc:
            await self._send(
                {
                    "type": "error",
                    "request_id": request_id,
                    "execution_id": record.id,
                    "data": lagged_data(exc),
                }
            )
        finally:
            self._following -= 1
