"""Hot-path endpoints, declared once and served without FastAPI's per-request machinery.

FastAPI's request handling (its middleware layers, dependency solving, parameter extraction) costs
more than a whole no-op execution, so the routes clients hit in a loop (execute, status, results,
cancel, events) are declared with `@lean(router, method, path, permission, **route)`:

    @lean(router, "GET", "/workflows/{execution_id}/events", READ)
    async def events(request, user, execution_id: str,
                     after: Annotated[int | None, Query(ge=0)] = None) -> Response: ...

From that one declaration come the path parameters (named by the path, passed as strings), the
query parameters with their types and bounds (the endpoint's other keyword parameters), the
OpenAPI entry (a `LeanRoute`, FastAPI's route class with its own handler), and the checks made on
every request: authentication and the permission (the same `Permission` as everywhere), then the
query's constraints (a 422 problem shaped as FastAPI routes answer it).

One handler, `LeanRoute.serve`, reached two ways: `LeanFrontDoor`, the outermost app, serves
the requests that need nothing from the middleware stack from a table of the declared routes;
every other request goes through the stack to FastAPI, whose router finds the same `LeanRoute`.
"""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nanobrain.core.user import User
from nanobrain.web.deps import Permission, declares
from nanobrain.web.middleware import RequestContext
from nanobrain.web.problems import problem_for
from nanobrain.web.responses import JSON

LeanEndpoint = Callable[..., Awaitable[Response]]  # (request, user, **parameters) -> Response
LEAN_ATTRIBUTE = "__nanobrain_lean__"  # on the route's endpoint: its `_Declaration`
_REQUEST_AND_USER = 2  # the endpoint's leading positional parameters


class _Declaration:
    __slots__ = ("endpoint", "guard")

    def __init__(self, endpoint: LeanEndpoint, permission: str):
        self.endpoint = endpoint
        self.guard = Permission(permission)


def lean(
    router: APIRouter, method: str, path: str, permission: str, **route: Any
) -> Callable[[LeanEndpoint], LeanEndpoint]:
    """Declare `endpoint(request, user, **parameters)` as a lean route of `router`. `route` is
    what FastAPI's route takes for the OpenAPI document (`response_model`, `responses`, ...)."""

    def declare(endpoint: LeanEndpoint) -> LeanEndpoint:
        declaration = _Declaration(endpoint, permission)

        async def documented(request: Request, **parameters: Any) -> Response:
            return await endpoint(request, await declaration.guard(request), **parameters)

        documented.__signature__ = _documented_signature(endpoint)  # type: ignore[attr-defined]
        documented.__name__ = endpoint.__name__
        documented.__qualname__ = endpoint.__qualname__
        documented.__doc__ = endpoint.__doc__
        setattr(documented, LEAN_ATTRIBUTE, declaration)
        router.add_api_route(
            path,
            declares(permission)(documented),
            methods=[method],
            route_class_override=LeanRoute,
            **route,
        )
        return endpoint

    return declare


def _documented_signature(endpoint: LeanEndpoint) -> inspect.Signature:
    """`(request, <the endpoint's parameters after request and user>)`, annotations resolved:
    what FastAPI reads the path and query parameters (with their constraints) from."""
    hints = typing.get_type_hints(endpoint, include_extras=True)
    own = list(inspect.signature(endpoint).parameters.values())
    if len(own) < _REQUEST_AND_USER:
        raise TypeError(f"{endpoint.__qualname__} must take (request, user, ...)")
    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    ]
    for parameter in own[_REQUEST_AND_USER:]:
        annotation = hints.get(parameter.name, parameter.annotation)
        parameters.append(
            parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        )
    return inspect.Signature(parameters, return_annotation=Response)


class LeanRoute(APIRoute):
    """FastAPI's route for a `@lean` endpoint: the OpenAPI entry, and the one handler (`serve`)
    both the front door and FastAPI's router call. Refuses, when declared, an endpoint whose
    parameters are not the path's parameters (strings) plus query parameters."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **route: Any):
        declaration: _Declaration = getattr(endpoint, LEAN_ATTRIBUTE)
        self._endpoint = declaration.endpoint
        self._guard = declaration.guard
        super().__init__(path, endpoint, **route)
        dependant = self.dependant
        if (
            dependant.body_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.dependencies
        ):
            raise TypeError(f"{path}: a lean route takes path and query parameters only")
        declared = {field.name for field in dependant.path_params}
        in_path = set(self.param_convertors)
        if declared != in_path:
            raise TypeError(f"{path}: the endpoint must take exactly {sorted(in_path)} as path")
        for field in dependant.path_params:
            if field.field_info.annotation is not str:
                raise TypeError(f"{path}: path parameter {field.name!r} must be a str")
        self._query = tuple(dependant.query_params)
        self._takes_parameters = bool(in_path or self._query)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.serve

    async def serve(self, request: Request) -> Response:
        """Authenticate, check the permission and the query, run the endpoint; every error
        becomes its problem response."""
        try:
            user: User = await self._guard(request)
            if not self._takes_parameters:  # the execute hot path
                return await self._endpoint(request, user)
            values: dict[str, Any] = {}
            if self._query:
                values, errors = request_params_to_args(self._query, request.query_params)
                if errors:
                    raise RequestValidationError(errors)
            return await self._endpoint(request, user, **request.path_params, **values)
        except Exception as exc:
            return await problem_for(request, exc)


class LeanTable:
    """The lean routes of `routers` (mounted under `prefix`), found by method and path: paths
    without parameters by one lookup, the others by their patterns."""

    def __init__(self, routers: Iterable[APIRouter], prefix: str):
        routes = [
            route for router in routers for route in router.routes if isinstance(route, LeanRoute)
        ]
        self.prefix = prefix
        self.fixed = {
            (method, prefix + route.path): route
            for route in routes
            if not route.param_convertors
            for method in route.methods or ()
        }
        self.patterned = [route for route in routes if route.param_convertors]

    def match(self, scope: Scope) -> tuple[LeanRoute, dict[str, str]] | None:
        """The lean route an HTTP request asks for, with its path parameters."""
        path: str = scope["path"]
        method = scope["method"]
        route = self.fixed.get((method, path))
        if route is not None:
            return route, {}
        if not path.startswith(self.prefix):
            return None
        path = path[len(self.prefix) :]
        for route in self.patterned:
            matched = route.path_regex.match(path)
            if matched and method in (route.methods or ()):
                return route, matched.groupdict()
        return None


class LeanFrontDoor:
    """The outermost app. A lean route asked without an `Origin` header (no CORS to apply) and
    with a body of declared length within the cap (httptools reads no more than declared) needs
    nothing from the middleware stack but the request context: it is served here with that
    context inline, one wrapped `send` and the middleware layers fewer. Every other request goes
    through `app`, the full stack, whose FastAPI router serves lean routes with the same
    handler."""

    def __init__(
        self,
        app: ASGIApp,
        api: FastAPI,
        table: LeanTable,
        context: RequestContext,
        max_body: int,
    ):
        self.app = app
        self.api = api
        # What `api.state.nanobrain` reads, without State's Python-level __getattr__ per request.
        self._api_state: dict[str, Any] = api.state._state
        self.table = table
        self.context = context
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._plain(scope):
            matched = self.table.match(scope)
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
        route: LeanRoute,
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
            scope["app"] = self.api
            scope["nanobrain"] = self._api_state["nanobrain"]
            scope["route"] = route
            scope["path_params"] = path_params
            response = await route.serve(Request(scope, receive))
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
