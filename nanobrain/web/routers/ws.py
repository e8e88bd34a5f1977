"""The WebSocket at `/api/v1/ws` (API.md, "WebSocket"): several executions and chat turns on one
socket, each client request answered with its `id` as `request_id`.

Client messages (`web.ws_messages`, one pydantic model per type): `auth`, `ping`,
`workflow.execute`, `chat.message`, `subscribe`, `cancel`. Server messages: `ready`
(authenticated), `pong`, `session.created`, `execution.created`, `cancel.accepted`, event
envelopes, `error`, and `reconnect` before a drain.

Every message is authorised as its HTTP equivalent would be at that moment, by the same `Guard`:
the principal is established again from the socket's credential (cached, so it costs a few
lookups), must hold the message type's permission, and is counted in that permission's rate-limit
group. Each batch a live subscription delivers is checked again the same way, and the socket is
re-checked every `realtime.ws_recheck_seconds` while it is open, so a principal that was demoted,
disabled, deleted, signed out, or whose token or key expired or was revoked, loses what it lost
within seconds: its subscriptions end with an `error` 403, or the socket closes.

Every refusal of the socket closes it with a code and a reason:

| code | when |
|---|---|
| 4401 | no valid credentials (`?token=`, or a first `{"type": "auth", "token"}` message in time) |
| 4403 | authenticated, but without the `read` permission |
| 4408 | idle: no message and no live subscription for `realtime.ws_idle_timeout_seconds` |
| 4429 | the principal holds its role's share of open streams (`runtime.fair_share.streams`) |
| 1003 | a binary frame (the protocol is JSON text) |
| 1009 | a message over the size limit (uvicorn's `ws_max_size`) |
| 1012 | the server is restarting: reconnect and resume with `subscribe` + `after` |
| 1013 | too slow (a send waited `realtime.send_timeout_seconds`), or an outage: try again later |

A socket whose credentials stop being valid (expired, revoked, signed out, the account disabled
or deleted) is closed with 4401 too; one that connects more often than the `read` rate limit
allows is closed with 1013 (try again later).

A slow client never slows a workflow: events wait in the bus's bounded replay log, each
subscription reads at its own pace, and one that falls out of the log gets an `error` of type
`lagged` instead of a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from nanobrain.config import LimitsConfig
from nanobrain.core.execution import ExecutionRecord
from nanobrain.core.user import User
from nanobrain.observability.metrics import STREAMS_REFUSED
from nanobrain.runtime.errors import RuntimeProblem, validation_errors
from nanobrain.runtime.events.base import StreamLagged
from nanobrain.runtime.service import visible
from nanobrain.security.credentials import AuthenticationFailed, Credential, Identity, credential_in
from nanobrain.security.guard import Refused
from nanobrain.security.policy import READ
from nanobrain.web.body import parse_json
from nanobrain.web.deps import declares
from nanobrain.web.problems import ProblemError, outage
from nanobrain.web.responses import dumps
from nanobrain.web.schemas import ExecuteRequest
from nanobrain.web.state import AppState, app_state
from nanobrain.web.stream_caps import UNCOUNTED, TooManyStreams
from nanobrain.web.streaming import draining_data, lagged_data
from nanobrain.web.workflow_choice import pick_workflow
from nanobrain.web.ws_messages import (
    Auth,
    Cancel,
    Chat,
    ClientMessage,
    Execute,
    Ping,
    Subscribe,
    parse_message,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["websocket"])
UNAUTHORIZED, FORBIDDEN, IDLE, TOO_MANY_STREAMS = 4401, 4403, 4408, 4429
UNSUPPORTED_DATA, RESTARTING, TRY_LATER = 1003, 1012, 1013


class Closing(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]  # a close frame's reason is at most 123 bytes


class Malformed(Exception):
    """A client message that is not one of the protocol's (400) or whose fields are wrong
    (422); `request_id` is its `id` when it had one."""

    def __init__(self, status: int, detail: str, request_id: Any, errors: Any = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.request_id = request_id
        self.errors = errors


@router.websocket("/ws")
@declares(READ)
async def websocket(ws: WebSocket) -> None:
    await Socket(ws, app_state(ws)).serve()


def parse(text: str, limits: LimitsConfig) -> ClientMessage:
    """One client message, or `Malformed`."""
    try:  # the body parser's checks: strict JSON, exact integers, nesting, string length
        data = parse_json(text.encode(), limits, "message")
    except ProblemError as exc:
        raise Malformed(exc.status, exc.detail, None) from None
    if not isinstance(data, dict):
        raise Malformed(400, "not a JSON object", None)
    request_id = data.get("id") if isinstance(data.get("id"), str | int) else None
    try:
        return parse_message.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if errors and errors[0]["type"] in ("union_tag_invalid", "union_tag_not_found"):
            kind = data.get("type")
            raise Malformed(400, f"unknown message type {kind!r}", request_id) from None
        # Locations without the union's tag: ("workflow.execute", "input") -> ["input"].
        found = [{**error, "loc": error["loc"][1:]} for error in validation_errors(exc)]
        raise Malformed(422, "invalid message", request_id, found) from None


class Socket:
    def __init__(self, ws: WebSocket, state: AppState):
        self.ws = ws
        self.state = state
        self.config = state.settings.realtime
        self.guard = state.security.guard
        self.identity: Identity | None = None
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._following = 0  # live subscriptions, and those reserved for a request under way
        self._closing: asyncio.Future[Closing] = asyncio.get_running_loop().create_future()
        self._slot = UNCOUNTED  # the principal's open-stream slot this socket holds

    # -- lifecycle -----------------------------------------------------------------------------
    async def serve(self) -> None:
        await self.ws.accept()
        self.state.stream_opened()
        try:
            self.identity = await self._authenticate()
            await self._count_stream(self.identity.user)
            await self._ready()
            await self._run()
        except Closing as closing:
            await self._close(closing)
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # an outage while authenticating: 1013, try again later
            described = outage(exc)
            if described is None:
                raise
            await self._close(Closing(TRY_LATER, described["detail"]))
        finally:
            self._slot.release()
            self.state.stream_closed()
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self) -> None:
        reader = asyncio.create_task(self._read())
        watchdog = asyncio.create_task(self._watch())
        draining = asyncio.create_task(self.state.draining.wait())
        try:
            waiting: set[asyncio.Future[Any]] = {reader, watchdog, draining, self._closing}
            await asyncio.wait(waiting, return_when="FIRST_COMPLETED")
        finally:
            reader.cancel()
            watchdog.cancel()
            draining.cancel()
        if self._closing.done():
            raise self._closing.result()
        if watchdog.done() and not watchdog.cancelled():
            watchdog.result()  # a Closing: the principal lost access
        if draining.done() and not draining.cancelled():
            await self._send({"type": "reconnect", "data": draining_data()})
            raise Closing(RESTARTING, "server restarting: reconnect and resume with subscribe")
        reader.result()  # a Closing or disconnect from the reader

    async def _close(self, closing: Closing) -> None:
        if self.ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await self.ws.close(closing.code, closing.reason)

    def _end(self, closing: Closing) -> None:
        if not self._closing.done():
            self._closing.set_result(closing)

    # -- who is on the socket ------------------------------------------------------------------
    async def _authenticate(self) -> Identity:
        """From `?token=`, the handshake's headers, or a first `auth` message."""
        token = self.ws.query_params.get("token")
        if token is not None:
            return await self._sign_in(Credential.of(token))
        with contextlib.suppress(AuthenticationFailed):
            credential = credential_in(self.ws.scope["headers"])
            if credential is not None or not self.guard.enabled:
                return await self._sign_in(credential)
        try:
            async with asyncio.timeout(self.config.ws_auth_timeout_seconds):
                message = await self._receive()
        except TimeoutError:
            raise Closing(
                UNAUTHORIZED, "authentication required: ?token= or an auth message"
            ) from None
        try:
            first = parse(message, self.state.settings.web_interface.limits)
        except Malformed:
            first = None
        if not isinstance(first, Auth):
            raise Closing(UNAUTHORIZED, "authentication required: the first message must be auth")
        return await self._sign_in(Credential.of(first.token))

    async def _sign_in(self, credential: Credential | None) -> Identity:
        """Establish the socket's principal (counted as one `read` request)."""
        try:
            return await self.guard.admit(credential, READ, self.ws)
        except Refused as exc:
            raise _closing(exc) from None

    async def _current(self) -> Identity:
        """The socket's principal as it stands now; Closing 4401 when its credential no longer
        holds. Cheap: the credential, the account and the login are cached."""
        assert self.identity is not None
        try:
            self.identity = await self.guard.recheck(self.identity)
        except Refused as exc:
            raise _closing(exc) from None
        return self.identity

    async def _admit(self, permission: str) -> User:
        """The principal now, if it may send a message that needs `permission`: counted in that
        permission's rate-limit group, exactly as the HTTP request would be."""
        identity = await self._current()
        try:
            await self.guard.permit(identity, permission)
        except Refused as exc:
            raise ProblemError(exc.status, exc.detail, headers=exc.headers) from None
        return identity.user

    async def _watch(self) -> None:
        """Close the socket of a principal that lost access, even while it sends nothing. A
        check that cannot be made (the database is unreachable) is tried again at the next tick;
        meanwhile every message and every batch still needs a check that succeeds."""
        if not self.guard.enabled:  # everyone is the local admin, for good
            await asyncio.Event().wait()
        while True:
            await asyncio.sleep(self.config.ws_recheck_seconds)
            try:
                identity = await self._current()
            except Closing:
                raise
            except Exception as exc:
                log.warning("cannot re-check a WebSocket's principal: %r", exc)
                continue
            if not identity.user.can(READ):
                raise Closing(FORBIDDEN, f"the role {identity.user.role!r} may no longer read")

    async def _ready(self, request_id: Any = None) -> None:
        assert self.identity is not None
        user = self.identity.user
        data = {"id": user.id, "username": user.username, "role": user.role}
        await self._send({"type": "ready", "request_id": request_id, "user": data})

    # -- reading -------------------------------------------------------------------------------
    async def _receive(self) -> str:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            raise Closing(UNSUPPORTED_DATA, "send JSON text frames, not binary")
        return str(text)

    async def _read(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.config.ws_idle_timeout_seconds):
                    text = await self._receive()
            except TimeoutError:
                if self._following:
                    continue
                raise Closing(IDLE, "idle timeout") from None
            try:
                message = parse(text, self.state.settings.web_interface.limits)
            except Malformed as exc:
                errors = {"errors": exc.errors} if exc.errors is not None else {}
                self._spawn(self._error(exc.request_id, exc.status, exc.detail, **errors))
                continue
            self._spawn(self._guarded(message))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, message: ClientMessage) -> None:
        """Authorise and run one message; its failure is an `error` for that message, not the
        socket's end (unless the principal lost its credentials: then the socket closes)."""
        handler = self._handlers[type(message)]
        try:
            try:
                if isinstance(message, Auth):
                    await self._reauthenticate(message)
                else:
                    assert message.permission is not None
                    user = await self._admit(message.permission)
                    await handler(self, message, user)
            except (RuntimeProblem, ProblemError) as exc:
                extra = dict(exc.extra)
                retry = (getattr(exc, "headers", None) or {}).get("Retry-After")
                if retry is not None:
                    extra["retry_after"] = int(retry)
                await self._error(message.id, exc.status, exc.detail, **extra)
            except ValidationError as exc:
                errors = validation_errors(exc)
                await self._error(message.id, 422, "invalid message", errors=errors)
            except Exception as exc:  # an outage: 503 for this message, the socket stays
                described = outage(exc)
                if described is None:
                    raise
                status, detail = described.pop("status"), described.pop("detail")
                described.pop("title")
                await self._error(message.id, status, detail, **described)
        except Closing as closing:
            self._end(closing)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # the client is gone; serve() ends with the reader
        except Exception as exc:
            log.exception("unhandled error on a WebSocket %s message", message.type, exc_info=exc)
            with contextlib.suppress(Exception):
                await self._error(message.id, 500, "an unexpected error occurred; it is logged")

    # -- writing -------------------------------------------------------------------------------
    async def _send(self, data: dict[str, Any]) -> None:
        payload = dumps(data).decode()
        async with self._send_lock:
            try:
                async with asyncio.timeout(self.config.send_timeout_seconds):
                    await self.ws.send_text(payload)
            except TimeoutError:
                raise Closing(TRY_LATER, "too slow: resume with subscribe and after") from None

    async def _error(self, request_id: Any, status: int, detail: str, **extra: Any) -> None:
        data = {"status": status, "detail": detail, **extra}
        await self._send({"type": "error", "request_id": request_id, "data": data})

    # -- one handler per message type ------------------------------------------------------------
    async def _reauthenticate(self, message: Auth) -> None:
        identity = await self._sign_in(Credential.of(message.token))
        if self.identity is None or identity.user.id != self.identity.user.id:
            await self._count_stream(identity.user)  # the socket now counts for its new principal
        self.identity = identity
        await self._ready(message.id)

    async def _count_stream(self, user: User) -> None:
        """Take one of `user`'s open-stream slots for this socket (closed with 4429 past its
        role's cap), once its principal is known and before it can start anything."""
        try:
            slot = await self.state.stream_caps.open(user)
        except TooManyStreams as exc:
            STREAMS_REFUSED.labels("websocket").inc()
            raise Closing(TOO_MANY_STREAMS, str(exc)) from None
        self._slot.release()
        self._slot = slot

    async def _ping(self, message: Ping, user: User) -> None:
        await self._send({"type": "pong", "request_id": message.id})

    async def _execute(self, message: Execute, user: User) -> None:
        body = ExecuteRequest(
            workflow=message.workflow,
            input=message.input,
            query=message.query,
            session_id=message.session_id,
        )
        with self._subscription():  # a socket at its cap starts nothing
            runnable, routed = pick_workflow(body, self.state, user)
            record = await self.state.executions.submit(
                runnable,
                body.input,
                user,
                session_id=body.session_id,
                routed_from=body.query if routed else None,
            )
            self.state.security.audit.record(
                "execution.start",
                self.ws,
                actor=user,
                target=record.id,
                at=record.created_at,
                workflow=record.workflow,
            )
            created: dict[str, Any] = {
                "type": "execution.created",
                "request_id": message.id,
                "execution_id": record.id,
                "workflow": record.workflow,
            }
            if routed:
                created["routed_to"] = runnable.name
            await self._send(created)
            await self._follow(record, 0, message.id)

    async def _chat(self, message: Chat, user: User) -> None:
        with self._subscription():
            turn = await self.state.chat.send(
                user,
                message.content,
                session_id=message.session_id,
                workflow=message.workflow,
                attachments=list(message.attachments),
            )
            if turn.created:
                await self._send(
                    {
                        "type": "session.created",
                        "request_id": message.id,
                        "session_id": turn.session.id,
                        "workflow": turn.session.workflow,
                    }
                )
            await self._send(
                {
                    "type": "execution.created",
                    "request_id": message.id,
                    "execution_id": turn.execution.id,
                    "session_id": turn.session.id,
                    "message_id": turn.message.id,
                    "workflow": turn.session.workflow,
                }
            )
            await self._follow(turn.execution, 0, message.id)

    async def _subscribe(self, message: Subscribe, user: User) -> None:
        with self._subscription():
            record = await self.state.executions.get(message.execution_id, user)
            await self._follow(record, message.after, message.id)

    async def _cancel(self, message: Cancel, user: User) -> None:
        record = await self.state.executions.cancel(message.execution_id, user)
        self.state.security.audit.record("execution.cancel", self.ws, actor=user, target=record.id)
        await self._send(
            {"type": "cancel.accepted", "request_id": message.id, "execution_id": record.id}
        )

    _handlers: dict[type[Any], Callable[..., Awaitable[None]]] = {
        Auth: _reauthenticate,
        Ping: _ping,
        Execute: _execute,
        Chat: _chat,
        Subscribe: _subscribe,
        Cancel: _cancel,
    }

    # -- subscriptions ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _subscription(self) -> Iterator[None]:
        """Hold one of the socket's subscriptions for a request, from before it starts anything
        (429 at the cap) until its stream ends."""
        if self._following >= self.config.ws_max_subscriptions:
            raise ProblemError(
                429, f"at most {self.config.ws_max_subscriptions} live subscriptions per socket"
            )
        self._following += 1
        try:
            yield
        finally:
            self._following -= 1

    async def _follow(self, record: ExecutionRecord, after: int, request_id: Any) -> None:
        """Send the execution's events, each batch only while the principal may still see it."""
        try:
            async for batch in self.state.executions.event_batches(record, after):
                if not visible(record, (await self._current()).user):
                    await self._send(
                        {
                            "type": "error",
                            "request_id": request_id,
                            "execution_id": record.id,
                            "data": {"status": 403, "detail": "you may no longer see this"},
                        }
                    )
                    return
                for event in batch:
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


def _closing(refused: Refused) -> Closing:
    if refused.status == 429:
        return Closing(TRY_LATER, refused.detail)
    return Closing(FORBIDDEN if refused.status == 403 else UNAUTHORIZED, refused.detail)
