"""Hot-path endpoints served without FastAPI's per-request machinery, documented by FastAPI.

FastAPI's request handling (its middleware layers, dependency solving, parameter extraction) costs
more than a whole no-op execution, so the routes clients hit in a loop (execute, status, results,
cancel, events) are `(request, user) -> Response` functions marked `@lean(permission)`. The
`LeanDispatcher` in front of the FastAPI app serves them directly; FastAPI's route for the same
function only feeds the OpenAPI document. Authentication and the permission check are the same
`Permission` dependency, and errors become the same problem responses, as everywhere else.
`LeanFrontDoor`, the outermost app, serves most of these requests before the middleware stack.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nanobrain.core.user import User
from nanobrain.web.deps import Permission, declares
from nanobrain.web.middleware import RequestContext
from nanobrain.web.problems import problem_for
from nanobrain.web.responses import JSON

LeanEndpoint = Callable[[Request, User], Awaitable[Response]]
LEAN_ATTRIBUTE = "__nanobrain_lean__"  # serve this endpoint lean


def lean(permission: str, **documented: Any) -> Callable[[LeanEndpoint], Callable[..., Any]]:
    """Serve `endpoint(request, user)` lean. `documented` declares its path and query parameters
    for OpenAPI (`name=str`, or `name=(int | None, Query(...))`); the endpoint reads them from the
    request itself."""

    def decorate(endpoint: LeanEndpoint) -> Callable[..., Any]:
        guard = Permission(permission)

        async def serve(request: Request, **_: Any) -> Response:
            try:
                return await endpoint(request, await guard(request))
            except Exception as exc:
                return await problem_for(request, exc)

        request_parameter = inspect.Parameter(
            "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
        )
        parameters = [request_parameter]
        for name, spec in documented.items():
            annotation, default = (
                spec if isinstance(spec, tuple) else (spec, inspect.Parameter.empty)
            )
            parameters.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
                )
            )
        signature = inspect.Signature(parameters, return_annotation=Response)
        serve.__signature__ = signature  # type: ignore[attr-defined]
        serve.__name__ = endpoint.__name__
        serve.__doc__ = endpoint.__doc__
        setattr(serve, LEAN_ATTRIBUTE, True)
        return declares(permission)(serve)

    return decorate


class _LeanRoute:
    __slots__ = ("endpoint", "methods", "path", "path_format", "regex")

    def __init__(self, path: str, methods: set[str], endpoint: Callable[..., Awaitable[Response]]):
        self.path = path
        self.path_format = path  # what metrics label the request with
        self.regex, _, _ = compile_path(path)
        self.methods = methods
        self.endpoint = endpoint


class LeanDispatcher:
    """Serves `@lean` routes itself and hands every other request (and lifespan, WebSocket) to
    the FastAPI app. A lean path asked with another method falls through to FastAPI (405)."""

    def __init__(self, api: FastAPI, routers: Iterable[APIRouter], prefix: str):
        self.api = api
        # What `api.state.nanobrain` reads, without State's Python-level __getattr__ per request.
        self._api_state: dict[str, Any] = api.state._state
        self.routes = [
            _LeanRoute(prefix + route.path, set(route.methods or ()), route.endpoint)
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute) and hasattr(route.endpoint, LEAN_ATTRIBUTE)
        ]
        # Paths without parameters are found by one lookup; the others by their patterns.
        self.fixed = {
            (method, route.path): route
            for route in self.routes
            if "{" not in route.path
            for method in route.methods
        }
        self.patterned = [route for route in self.routes if "{" in route.path]

    def match(self, scope: Scope) -> tuple[_LeanRoute, dict[str, str]] | None:
        """The lean route an HTTP request asks for, with its path parameters."""
        path = scope["path"]
        route = self.fixed.get((scope["method"], path))
        if route is not None:
            return route, {}
        for route in self.patterned:
            matched = route.regex.match(path)
            if matched and scope["method"] in route.methods:
                return route, matched.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            matched = self.match(scope)
            if matched is not None:
                response = await self.respond(*matched, scope, receive)
                await response(scope, receive, send)
                return
        await self.api(scope, receive, send)

    async def respond(
        self, route: _LeanRoute, path_params: dict[str, str], scope: Scope, receive: Receive
    ) -> Response:
        scope["app"] = self.api
        scope["nanobrain"] = self._api_state["nanobrain"]
        scope["route"] = route
        scope["path_params"] = path_params
        return await route.endpoint(Request(scope, receive))


class LeanFrontDoor:
    """The outermost app. A lean route asked without an `Origin` header (no CORS to apply) and
    with a body of declared length within the cap (httptools reads no more than declared) needs
    nothing from the middleware stack but the request context: it is served here with that
    context inline, one wrapped `send` and three middleware layers fewer. Every other request
    goes through `app`, the full stack, which serves lean routes too."""

    def __init__(
        self, app: ASGIApp, dispatcher: LeanDispatcher, context: RequestContext, max_body: int
    ):
        self.app = app
        self.dispatcher = dispatcher
        self.context = context
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._plain(scope):
            matched = self.dispatcher.match(scope)
            if matched is not None:
                await self._serve(*matched, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _plain(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"origin" or name == b"transfer-encoding":
                return False
            if name == b"content-length" and not (value.isdigit() and int(value) <= self.max_body):
                return False
        return True

    async def _serve(
        self,
        route: _LeanRoute,
        path_params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        context = self.context
        extra = context.open(scope)
        status = 500
        sent = 0
        started = time.perf_counter()
        try:
            response = await self.dispatcher.respond(route, path_params, scope, receive)
            status = response.status_code
            if type(response) in _WHOLE and response.background is None:
                headers = context.headers(scope, response.raw_headers, extra)
                body = response.body
                sent = len(body)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return

            async def send_with_headers(message: Message) -> None:  # a streamed response
                nonlocal sent
                if message["type"] == "http.response.body":
                    sent += len(message.get("body", b""))
                elif message["type"] == "http.response.start":
                    own = message.get("headers", [])
                    message["headers"] = context.headers(scope, own, extra)
                await send(message)

            await response(scope, receive, send_with_headers)
        finally:
            context.finish(scope, status, time.perf_counter() - started, sent)


_WHOLE = (JSON, Response)  # responses whose whole body is in hand: sent as two messages here
