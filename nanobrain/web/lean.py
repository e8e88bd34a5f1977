"""Hot-path endpoints served by plain Starlette routes, documented by FastAPI.

FastAPI's per-request machinery (dependency solving, parameter extraction) costs more than the
whole of a no-op execution, so the routes every client hits in a loop (execute, status, results,
cancel, events) are `(request, user) -> Response` functions marked `@lean(permission)`: the app
serves them with a Starlette `Route` placed before FastAPI's, and FastAPI's route for the same
function only feeds the OpenAPI document. Authentication and the permission check are the same
`Permission` dependency as everywhere else.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from nanobrain.core.user import User
from nanobrain.web.deps import Permission

LeanEndpoint = Callable[[Request, User], Awaitable[Response]]
LEAN_ATTRIBUTE = "__nanobrain_lean__"


def lean(permission: str, **documented: Any) -> Callable[[LeanEndpoint], Callable[..., Any]]:
    """Serve `endpoint(request, user)` lean; `documented` declares its path and query parameters
    for OpenAPI (`name=str`, or `name=(int | None, Query(...))`). The endpoint reads them from the
    request itself."""

    def decorate(endpoint: LeanEndpoint) -> Callable[..., Any]:
        guard = Permission(permission)

        async def serve(request: Request, **_: Any) -> Response:
            return await endpoint(request, await guard(request))

        parameters = [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            )
        ]
        for name, spec in documented.items():
            annotation, default = (
                spec if isinstance(spec, tuple) else (spec, inspect.Parameter.empty)
            )
            parameters.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
                )
            )
        serve.__signature__ = inspect.Signature(parameters, return_annotation=Response)  # type: ignore[attr-defined]
        serve.__name__ = endpoint.__name__
        serve.__doc__ = endpoint.__doc__
        setattr(serve, LEAN_ATTRIBUTE, permission)
        return serve

    return decorate


class LeanRoute(Route):
    """A Starlette route that, like FastAPI's, names itself in the scope (metrics read it)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def lean_routes(routers: Iterable[APIRouter], prefix: str) -> list[BaseRoute]:
    """Starlette routes for every `@lean` endpoint of `routers`, to put before FastAPI's."""
    routes: list[BaseRoute] = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and hasattr(route.endpoint, LEAN_ATTRIBUTE):
                routes.append(
                    LeanRoute(prefix + route.path, route.endpoint, methods=list(route.methods))
                )
    return routes
