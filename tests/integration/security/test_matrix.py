"""Authorization, as an attacker probes it: every route of the app (read from its route table,
so a new route is covered the day it is added), every WebSocket message type (read from the
protocol's models) and every MCP method, against every kind of caller."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route, WebSocketRoute
from websockets.exceptions import ConnectionClosed

from nanobrain.config import load_settings
from nanobrain.core.registry import discover
from nanobrain.security.policy import ROLE_PERMISSIONS
from nanobrain.web.app import API_PREFIX, ROUTERS, create_api
from nanobrain.web.deps import Permission, declared_permission
from nanobrain.web.mcp import MCPApp
from nanobrain.web.routers import openai_compat
from nanobrain.web.ws_messages import MESSAGES
from tests.support.auth import JWT_SECRET, Accounts, bearer, forge
from tests.support.server import FLOWS, Server
from tests.support.ws import open_socket, receive, send

MISSING_ID = "0" * 32


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    permission: str | None  # None: public

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.permission or 'public'}]"


def _permission(route: BaseRoute) -> str | None:
    declared = declared_permission(getattr(route, "endpoint", None))
    if declared is not None or not isinstance(route, APIRoute):
        return declared
    found = [
        dependency.call.name
        for dependency in route.dependant.dependencies
        if isinstance(dependency.call, Permission)
    ]
    assert len(found) <= 1, f"{route.path} declares several permissions"
    return found[0] if found else None


def route_table() -> list[Endpoint]:
    """The app's own routes (FastAPI's and the lean ones: both are in the routers the app
    includes, the WebSocket too), the OpenAI-compatible ones, and what is mounted on the app
    itself (the OpenAPI document, the docs, MCP)."""
    api = create_api(load_settings(environ={}), discover(["nanobrain.examples", FLOWS]))
    routes: list[tuple[str, BaseRoute]] = [
        (API_PREFIX, r) for router in ROUTERS for r in router.routes
    ]
    routes += [("", route) for route in openai_compat.router.routes]
    routes += [("", route) for route in api.routes if isinstance(route, Route)]
    endpoints = []
    for prefix, route in routes:
        permission = _permission(route)
        if isinstance(route, WebSocketRoute):
            endpoints.append(Endpoint("WEBSOCKET", prefix + route.path, permission))
            continue
        assert isinstance(route, Route)
        for method in sorted(route.methods or {"POST"}):  # a mounted ASGI app: MCP posts
            if method != "HEAD":
                endpoints.append(Endpoint(method, prefix + route.path, permission))
    return endpoints


def protocol_rows() -> list[Endpoint]:
    """What transports that carry several actions do per action: each WebSocket message type
    (its model names its permission) and each MCP method."""
    rows = [
        Endpoint("WS", f"{API_PREFIX}/ws {kind}", model.permission)
        for kind, model in MESSAGES.items()
        if kind != "auth"  # establishes the principal: every caller may send it
    ]
    mcp = declared_permission(MCPApp)
    return rows + [Endpoint("MCP", f"/mcp {method}", mcp) for method in MCP_CALLS]


MCP_CALLS: dict[str, dict[str, Any]] = {
    "tools/list": {},
    "tools/call": {"name": "echo", "arguments": {"message": "hi"}},
}
WS_MESSAGES: dict[str, dict[str, Any]] = {
    "ping": {},
    "workflow.execute": {"workflow": "echo", "input": {"message": "hi"}},
    "chat.message": {"content": "hi", "workflow": "parrot"},
    "subscribe": {"execution_id": MISSING_ID},
    "cancel": {"execution_id": MISSING_ID},
}
ENDPOINTS = route_table() + protocol_rows()
# Routes anyone may call: health (for probes), the API description, and signing in (metrics need
# an admin or the scrape token). Any other public route is a hole until it is listed here on
# purpose.
PUBLIC = {
    "GET /api/v1/health",
    "GET /api/v1/health/live",
    "GET /api/v1/health/ready",
    "GET /api/v1/openapi.json",
    "GET /api/docs",
    "GET /docs/oauth2-redirect",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/logout",
    "GET /api/v1/auth/providers",
    "GET /api/v1/auth/oidc/{provider}/login",
    "GET /api/v1/auth/oidc/{provider}/callback",
}


def concrete(path: str) -> str:
    """A path with every parameter naming something that does not exist."""
    return re.sub(r"\{[^}]+\}", MISSING_ID, path)


class _Answer:
    """What a WebSocket handshake came to, in the shape of an HTTP answer: the close code, or
    200 once the server said `ready`."""

    def __init__(self, status_code: int, text: str):
        self.status_code = status_code
        self.text = text
        self.headers = {"www-authenticate": "Bearer", "content-type": "application/problem+json"}


def _socket(server: Server, endpoint: Endpoint, headers: dict[str, str]) -> _Answer:
    credential = headers.get("X-API-Key") or headers.get("Authorization", "").removeprefix(
        "Bearer "
    )
    with open_socket(server.api, credential or None) as ws:
        try:
            if not credential:
                send(ws, type="ping")  # not an auth message: refused
            reply = receive(ws)
            return _Answer(200 if reply.get("type") == "ready" else 500, str(reply))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            return _Answer(
                {4401: 401, 4403: 403}.get(code, code), closed.rcvd.reason if closed.rcvd else ""
            )


def _message(server: Server, endpoint: Endpoint, headers: dict[str, str]) -> _Answer:
    """One WebSocket message: 200 if it was acted on, the `error`'s status if it was refused,
    or the close code (as 401/403) when the socket itself was refused."""
    credential = headers.get("X-API-Key") or headers.get("Authorization", "").removeprefix(
        "Bearer "
    )
    kind = endpoint.path.split(" ")[1]
    with open_socket(server.api, credential or None) as ws:
        try:
            if not credential:
                send(ws, type="ping")  # not an auth message: refused
            assert receive(ws)["type"] == "ready"
            send(ws, type=kind, id="probe", **WS_MESSAGES[kind])
            reply = receive(ws)
            status = reply["data"]["status"] if reply["type"] == "error" else 200
            return _Answer(status, str(reply))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            return _Answer(
                {4401: 401, 4403: 403}.get(code, code), closed.rcvd.reason if closed.rcvd else ""
            )


def _mcp(server: Server, endpoint: Endpoint, headers: dict[str, str]) -> httpx.Response:
    method = endpoint.path.split(" ")[1]
    return httpx.post(
        f"{server.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": MCP_CALLS[method]},
        headers={**headers, "Accept": "application/json, text/event-stream"},
        timeout=30,
    )


def call(server: Server, endpoint: Endpoint, headers: dict[str, str]) -> Any:
    if endpoint.method == "WEBSOCKET":
        return _socket(server, endpoint, headers)
    if endpoint.method == "WS":
        return _message(server, endpoint, headers)
    if endpoint.method == "MCP":
        return _mcp(server, endpoint, headers)
    url = server.url + concrete(endpoint.path)
    body = {"json": {}} if endpoint.method in ("POST", "PUT", "PATCH") else {}
    return httpx.request(endpoint.method, url, headers=headers, timeout=30, **body)


def test_the_table_is_complete_and_every_route_declares_who_may_call_it() -> None:
    paths = {endpoint.path for endpoint in ENDPOINTS}
    assert {"/api/v1/workflows/execute", "/api/v1/admin/users", "/api/v1/admin/audit"} <= paths
    assert {"/api/v1/ws", "/v1/chat/completions", "/v1/models", "/mcp"} <= paths
    assert {f"/api/v1/ws {kind}" for kind in WS_MESSAGES} <= paths
    assert set(MESSAGES) == {*WS_MESSAGES, "auth"}  # a new message type needs a row here
    assert {"/mcp tools/list", "/mcp tools/call"} <= paths
    assert all(
        e.path.startswith((API_PREFIX, "/api/docs", "/docs", "/v1/", "/mcp")) for e in ENDPOINTS
    )
    public = {f"{e.method} {e.path}" for e in ENDPOINTS if e.permission is None}
    assert public == PUBLIC


@pytest.fixture(scope="module")
def bad_credentials(secure_server: Server, accounts: Accounts) -> dict[str, dict[str, str]]:
    api = secure_server.api
    user_id = accounts.ids["user"]
    created = httpx.post(
        f"{api}/auth/api-keys", json={"name": "doomed"}, headers=accounts.headers("user")
    ).json()
    revoked = httpx.delete(f"{api}/auth/api-keys/{created['id']}", headers=accounts.headers("user"))
    assert revoked.status_code == 204
    expired = forge(JWT_SECRET, sub=user_id, exp=int(time.time()) - 5)
    return {
        "anonymous": {},
        "expired token": bearer(expired),
        "revoked API key": {"X-API-Key": created["key"]},
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_route_answers_each_caller_as_the_policy_says(
    endpoint: Endpoint,
    secure_server: Server,
    accounts: Accounts,
    bad_credentials: dict[str, dict[str, str]],
) -> None:
    for caller, headers in bad_credentials.items():
        response = call(secure_server, endpoint, headers)
        assert response.status_code < 500, (caller, response.text)
        if endpoint.permission is None:
            assert response.status_code not in (401, 403), (caller, response.text)
        else:
            assert response.status_code == 401, (caller, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["content-type"] == "application/problem+json"
    for role in ROLE_PERMISSIONS:
        response = call(secure_server, endpoint, accounts.headers(role))
        assert response.status_code < 500, (role, response.text)
        if endpoint.permission is None or endpoint.permission in ROLE_PERMISSIONS[role]:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
