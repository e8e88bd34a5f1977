"""Pure ASGI middleware (no per-request Request objects): request ids and HTTP metrics."""

from __future__ import annotations

import re
import time
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nanobrain.observability.metrics import HTTP_REQUESTS, HTTP_SECONDS
from nanobrain.web.problems import ProblemError

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Every response carries `X-Request-ID`: the client's if well-formed, else a new one."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


class MetricsMiddleware:
    """Counts requests and their latency by method, route template and status."""

    def __init__(self, app: ASGIApp, prefix: str = ""):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = [500]

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            route = _route_template(scope, self.prefix)
            labels = (scope["method"], route, str(status[0]))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - started)


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
                        413, f"the request body is larger than the {limit}-byte limit"
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
