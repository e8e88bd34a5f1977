"""Pure ASGI middleware (no per-request Request objects): request context, response headers,
the access log and body limits."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nanobrain.core.ids import random_id
from nanobrain.observability.metrics import HTTP_REQUESTS, HTTP_SECONDS
from nanobrain.web.access_log import AccessLog
from nanobrain.web.headers import SecurityHeaders
from nanobrain.web.problems import ProblemError, problem_for
from nanobrain.web.responses import problem

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContext:
    """What every HTTP request and WebSocket gets: an id (the client's `X-Request-ID` if
    well-formed, else a new one), the security headers and the caller's rate-limit state on the
    response, a place in the HTTP metrics and a line in the access log. Used by
    `RequestContextMiddleware`, and inline by the lean front door (`nanobrain.web.lean`)."""

    def __init__(self, prefix: str = "", metrics: bool = True, access_log: bool = True):
        self.prefix = prefix
        self.metrics = metrics
        self.access_log = AccessLog() if access_log else None
        self.security_headers = SecurityHeaders()
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def open(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """Give the request its id (in `scope["state"]`); return the headers every response to
        it carries."""
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        request_id = request_id or random_id()
        scope.setdefault("state", {})["request_id"] = request_id
        return [
            (b"x-request-id", request_id.encode()),
            *self.security_headers.for_scope(scope["scheme"], scope["path"]),
        ]

    @staticmethod
    def headers(
        scope: Scope, own: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """A response's `own` headers with the request's `extra` ones and its rate-limit state."""
        headers = [*own, *extra]
        verdict = scope["state"].get("ratelimit")
        if verdict is not None:
            headers += [(k.encode(), v.encode()) for k, v in verdict.headers().items()]
        return headers

    def finish(self, scope: Scope, status: int, seconds: float, sent: int) -> None:
        """Account for a finished HTTP request: metrics, and the access log's line."""
        if self.metrics:
            self.observe(scope, status, seconds)
        access_log = self.access_log
        if access_log is not None and access_log.enabled:
            access_log.record(scope, status, seconds, sent)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        key = (scope["method"], _route_template(scope, self.prefix), status)
        children = self._children.get(key)
        if children is None:
            method, route, _ = key
            children = (
                HTTP_REQUESTS.labels(method, route, str(status)),
                HTTP_SECONDS.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class RequestContextMiddleware:
    """`RequestContext` for every request, with a single wrapped `send`."""

    def __init__(self, app: ASGIApp, context: RequestContext):
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        context = self.context
        extra = context.open(scope)
        if scope["type"] == "websocket":
            await self._session(scope, receive, send)
            return
        status = 500
        sent = 0
        started = time.perf_counter()
        app = self.app
        if b"%00" in scope["query_string"] or "\x00" in scope["path"]:
            app = _NUL_IN_URL  # no text column, on any database, takes one

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = context.headers(scope, message.get("headers", []), extra)
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            context.finish(scope, status, time.perf_counter() - started, sent)

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket: its handshake answer (101 accepted, 403 refused, or an HTTP status),
        the bytes sent, who closed it with which code; one access log line when it ends."""
        context = self.context
        status = 500
        sent = 0
        close_code: int | None = None
        started = time.perf_counter()

        async def watched_receive() -> Message:
            nonlocal close_code
            message = await receive()
            if message["type"] == "websocket.disconnect" and close_code is None:
                close_code = message.get("code", 1005)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal status, sent, close_code
            kind = message["type"]
            if kind == "websocket.send":
                text = message.get("text")
                sent += len(text.encode()) if text is not None else len(message.get("bytes", b""))
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close":
                if status == 500:
                    status = 403  # refused before the handshake completed
                close_code = message.get("code", 1000) if close_code is None else close_code
            elif kind == "websocket.http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        finally:
            access_log = context.access_log
            if access_log is not None and access_log.enabled:
                seconds = time.perf_counter() - started
                access_log.record(scope, status, seconds, sent, close_code)


_NUL_IN_URL = problem(
    400,
    "the URL holds a NUL character (%00), which no path or query value may contain",
    title="Bad Request",
)


class ProblemOnError:
    """An exception no route handler turned into a response becomes the 500 problem here, inside
    FastAPI's own error middleware, which would answer the same but then re-raise it to the
    server, and the server drops the keep-alive connection. (It is logged by `problem_for`.)"""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:  # too late for another answer
                raise
            response = await problem_for(Request(scope, receive), exc)
            await response(scope, receive, send)


def _route_template(scope: Scope, prefix: str) -> str:
    """The matched route's template (bounded label values), with the API prefix it sits under."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not path:
        return "unmatched"
    if prefix and scope["path"].startswith(prefix) and not path.startswith(prefix):
        return prefix + path
    return str(path)


class BodyLimitMiddleware:
    """Caps every request body: `max_body` for JSON and the like, `max_multipart` for uploads.

    A declared Content-Length over the cap is refused before reading; a chunked body is counted
    as it arrives and refused as soon as it passes the cap.
    """

    def __init__(self, app: ASGIApp, max_body: int, max_multipart: int):
        self.app = app
        self.max_body = max_body
        self.max_multipart = max_multipart

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body
        declared: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-type" and value.lower().startswith(b"multipart/"):
                limit = self.max_multipart
            elif name == b"content-length":
                declared = int(value) if value.isdigit() else None
        if declared is not None and declared > limit:
            await _send_too_large(send, limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ProblemError(
                        413,
                        f"the request body is larger than the {limit}-byte limit",
                        headers={"Connection": "close"},  # do not read the rest
                        limit=limit,
                    )
            return message

        await self.app(scope, counting_receive, send)


async def _send_too_large(send: Send, limit: int) -> None:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"the request body is larger than the {limit}-byte limit",
            "limit": limit,
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CrossOriginOnly:
    """Runs the CORS middleware only for requests that carry an `Origin` header: same-origin and
    non-browser clients (most of the traffic) skip its header parsing and wrapped `send`."""

    def __init__(self, app: ASGIApp, cors: ASGIApp):
        self.app = app
        self.cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, _ in scope["headers"]:
                if name == b"origin":
                    await self.cors(scope, receive, send)
                    return
        await self.app(scope, receive, send)
