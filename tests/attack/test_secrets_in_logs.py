"""Class: credentials in the logs. Every credential a client can hold (a password, an access and
a refresh token, an API key) is used on every transport the server offers, the way clients
really send them (headers, `?token=` on the WebSocket, the auth message, query strings by
mistake, the OpenID Connect callback's code and state), and then every line the server logged
during the whole run, at debug level, is searched for them."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from websockets.sync.client import connect

from tests.support.auth import ADMIN, bearer
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server


@pytest.fixture(scope="module")
def verbose(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    """A production server of this module's own, logging everything (debug level)."""
    env = production_env(tls, NANOBRAIN_WEB_INTERFACE__MONITORING__LOG_LEVEL="debug")
    server = Server(tmp_path_factory.mktemp("verbose"), env=env).start()
    yield server
    server.kill()


def socket_url(server: Server, query: str = "") -> str:
    return server.api.replace("https://", "wss://") + "/ws" + query


def read_until_final(ws: Any, execution_id: str | None = None) -> list[dict[str, Any]]:
    seen = []
    while True:
        message = json.loads(ws.recv(timeout=20))
        seen.append(message)
        if message.get("type") == "error":
            raise AssertionError(message)
        if message.get("type") in ("complete", "result") or (
            message.get("type") == "status" and message["data"].get("status") == "succeeded"
        ):
            return seen


def use_the_websocket(server: Server, tls: Tls, tokens: list[str]) -> None:
    """`tokens`: an access token and an API key."""
    for token in tokens:  # a credential in the query, as browsers and some clients send it
        with connect(socket_url(server, f"?token={token}"), ssl=tls.context()) as ws:
            assert json.loads(ws.recv(timeout=20))["type"] == "ready"
            ws.send(json.dumps({"type": "workflow.execute", "id": "q", "workflow": "echo",
                                "input": {"message": "hi"}}))  # fmt: skip
            read_until_final(ws)
    for headers in ({"Authorization": f"Bearer {tokens[0]}"}, {"X-API-Key": tokens[1]}):
        with connect(socket_url(server), ssl=tls.context(), additional_headers=headers) as ws:
            assert json.loads(ws.recv(timeout=20))["type"] == "ready"
    with connect(socket_url(server), ssl=tls.context()) as ws:  # the first-message form
        ws.send(json.dumps({"type": "auth", "token": tokens[0]}))
        assert json.loads(ws.recv(timeout=20))["type"] == "ready"
        ws.send(json.dumps({"type": "chat.message", "id": "c", "content": "count: one two"}))
        read_until_final(ws)


def use_server_sent_events(client: httpx.Client, headers: dict[str, str]) -> None:
    started = client.post(
        "/workflows/execute",
        json={"workflow": "simulation", "input": {"steps": 2, "step_seconds": 0.01}},
        headers=headers,
    )
    assert started.status_code == 202, started.text
    events = started.json()["links"]["events"].removeprefix("/api/v1")
    with client.stream("GET", events + "?after=0", headers=headers) as stream:
        assert stream.status_code == 200
        assert "event: " in "".join(stream.iter_text())  # read to its end
    with client.stream(
        "POST", "/chat/stream", json={"message": "count: one two"}, headers=headers
    ) as stream:
        assert stream.status_code == 200
        assert "complete" in "".join(stream.iter_text())


async def use_mcp(server: Server, tls: Tls, headers: dict[str, str]) -> None:
    async with (
        httpx2.AsyncClient(headers=headers, verify=tls.context(), timeout=30) as http,
        streamable_http_client(f"{server.url}/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        assert (await session.list_tools()).tools
        result = await session.call_tool("text-stats", {"text": "One fish."})
        assert not result.is_error


def use_openai(server: Server, tls: Tls, key: str) -> None:
    with httpx.Client(verify=tls.context()) as http:
        ai = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, http_client=http)
        model = ai.models.list().data[0].id
        reply = ai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "count: one two"}]
        )
        assert reply.choices[0].message.content


def test_no_credential_reaches_any_log_line(verbose: Server, tls: Tls) -> None:
    client = https_client(verbose.api, tls)
    password = f"pw-{secrets.token_urlsafe(12)}"
    wrong_password = f"wrong-{secrets.token_urlsafe(12)}"
    root = client.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}).json()
    created = client.post(
        "/admin/users",
        json={"username": "logged", "password": password, "role": "developer"},
        headers=bearer(root["access_token"]),
    )
    assert created.status_code == 201, created.text
    login = client.post("/auth/login", json={"username": "logged", "password": password})
    pair = login.json()
    access, refresh = pair["access_token"], pair["refresh_token"]
    issued = client.post("/auth/api-keys", json={"name": "logged"}, headers=bearer(access))
    key = issued.json()["key"]
    assert key.startswith("nbk_")

    # HTTP: the Authorization header, X-API-Key, a key as a bearer token
    assert client.get("/auth/me", headers=bearer(access)).status_code == 200
    assert client.get("/workflows", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/workflows", headers=bearer(key)).status_code == 200
    # credentials where they do not belong: a query string (plain and percent-encoded), a path
    client.get(f"/workflows?token={access}&api_key={key}")
    client.get("/workflows", params={"q": f"x {key}", "access_token": access, "key": key})
    client.get("/executions?cursor=" + "".join(f"%{byte:02X}" for byte in key.encode()))
    client.get(f"/workflows/{key}/status", headers={"X-API-Key": key})
    client.get(f"/auth/oidc/none/callback?code={access}&state={refresh}")
    # streams, the WebSocket, MCP and the OpenAI-compatible API
    use_server_sent_events(client, {"X-API-Key": key})
    use_the_websocket(verbose, tls, [access, key])
    asyncio.run(use_mcp(verbose, tls, bearer(access)))
    use_openai(verbose, tls, key)
    # refresh (rotation), reuse of the old refresh token (the family is revoked), logout
    renewed = client.post("/auth/refresh", json={"refresh_token": refresh})
    assert renewed.status_code == 200, renewed.text
    reused = client.post("/auth/refresh", json={"refresh_token": refresh})
    assert reused.status_code == 401
    second = client.post("/auth/login", json={"username": "logged", "password": password}).json()
    assert client.post(
        "/auth/logout", json={"refresh_token": second["refresh_token"]}
    ).status_code in (200, 204)
    # and a sign-in that fails
    failed = client.post("/auth/login", json={"username": "logged", "password": wrong_password})
    assert failed.status_code == 401

    assert verbose.stop(), "the server did not shut down cleanly"
    log = verbose.log()
    minted = {
        "admin password": ADMIN[1],
        "password": password,
        "wrong password": wrong_password,
        "access token": access,
        "refresh token": refresh,
        "API key": key,
        "renewed access token": renewed.json()["access_token"],
        "renewed refresh token": renewed.json()["refresh_token"],
        "second access token": second["access_token"],
        "second refresh token": second["refresh_token"],
        "admin's access token": root["access_token"],
    }
    leaked = {
        name: [line for line in log.splitlines() if value in line or value[-20:] in line][:3]
        for name, value in minted.items()
        if value in log or value[-20:] in log  # the whole, or a token's signature part
    }
    assert not leaked, leaked
    # and the log did see those requests: the WebSocket's credentials were redacted, not lost
    assert '"WEBSOCKET /api/v1/ws?token=[REDACTED]" 101' in log
    assert '"GET /api/v1/auth/oidc/none/callback?code=[REDACTED]&state=[REDACTED]" 404' in log
    assert ' - "WebSocket ' not in log, "uvicorn's own handshake lines are silenced"


def test_uvicorn_access_lines_are_replaced_by_one_line_per_request(
    production: Server, tls: Tls
) -> None:
    request_id = f"trace-{secrets.token_hex(4)}"
    client = https_client(production.api, tls, headers={"X-Request-ID": request_id})
    assert client.get("/health/live?probe=1").status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the line is written once the response is sent
        log = production.log()
        lines = [line for line in log.splitlines() if f"req={request_id}" in line]
        if lines:
            break
        time.sleep(0.05)
    assert len(lines) == 1, lines
    assert 'nanobrain.access: 127.0.0.1 - "GET /api/v1/health/live?probe=1" 200 ' in lines[0]
    assert " HTTP/1.1" not in log, "no uvicorn access lines"


def test_a_request_cannot_forge_log_lines(production: Server, tls: Tls) -> None:
    client = https_client(production.api, tls)
    forged = "2026-01-01 00:00:00,000 INFO nanobrain.access: 10.9.9.9 forged"
    client.get("/health/live/%0A" + forged.replace(" ", "%20") + "?x=%0d%0a" + "forged-too")
    deadline = time.monotonic() + 10
    while "forged-too" not in production.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = production.log().splitlines()
    assert any("\\x0a2026-01-01" in line for line in lines), "escaped, still visible"
    assert not any(line.startswith(forged) for line in lines)
