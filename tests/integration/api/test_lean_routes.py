"""The hot-path (lean) routes reach their endpoint through two doors: the front door, which serves
requests without an `Origin` header and with a body of declared length inline, and the full
middleware stack (CORS, chunked bodies counted against the cap). Both must answer alike."""

from __future__ import annotations

import re
import socket
from typing import Any

import httpx
import orjson
import pytest

from tests.support.api import assert_problem
from tests.support.server import Server

ORIGIN = {"Origin": "http://localhost:3000"}  # an allowed origin of the development profile
SECURITY_HEADERS = (
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
    "content-security-policy",
)
ECHO = {"workflow": "echo", "input": {"message": "hi"}, "wait": True}


def _context_of(response: httpx.Response, request_id: str) -> dict[str, Any]:
    """What the request context adds to a response, checked, as comparable values."""
    assert response.headers["x-request-id"] == request_id
    return {name: response.headers[name] for name in SECURITY_HEADERS}


def test_lean_routes_answer_alike_through_either_door(client: httpx.Client) -> None:
    seen: dict[str, list[dict[str, Any]]] = {}
    for door, extra in (("front", {}), ("stack", ORIGIN)):
        headers = {"X-Request-ID": f"door-{door}", **extra}
        ran = client.post("/workflows/execute", json=ECHO, headers=headers)
        assert ran.status_code == 200, ran.text
        assert ran.json()["status"] == "succeeded" and ran.json()["output"] == {"message": "hi"}
        links = ran.json()["links"]
        prefix = str(client.base_url.path).rstrip("/")
        replies = [
            ran,
            client.get(links["status"].removeprefix(prefix), headers=headers),
            client.get(links["results"].removeprefix(prefix), headers=headers),
            client.get(links["events"].removeprefix(prefix), headers=headers),
            client.delete(links["cancel"].removeprefix(prefix), headers=headers),
            client.get("/workflows/0123456789abcdef0123456789abcdef/status", headers=headers),
        ]
        assert [reply.status_code for reply in replies] == [200, 200, 200, 200, 409, 404]
        assert replies[3].text.count("\nevent: ") + replies[3].text.startswith("event: ") >= 4
        assert_problem(replies[4], 409)
        assert_problem(replies[5], 404)
        seen[door] = [_context_of(reply, headers["X-Request-ID"]) for reply in replies]
        cors = [reply.headers.get("access-control-allow-origin") for reply in replies]
        assert cors == [extra.get("Origin")] * len(replies)
    assert seen["front"] == seen["stack"]


def test_every_door_counts_in_the_http_metrics(client: httpx.Client) -> None:
    def served() -> float:
        text = client.get("/metrics").text
        pattern = (
            r'^nanobrain_http_requests_total\{method="POST",'
            r'route="/api/v1/workflows/execute",status="200"\} ([0-9.e+]+)$'
        )
        found = re.search(pattern, text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    before = served()
    assert client.post("/workflows/execute", json=ECHO).status_code == 200
    assert client.post("/workflows/execute", json=ECHO, headers=ORIGIN).status_code == 200
    assert served() == before + 2


def _chunked_execute(server: Server, body: bytes, chunk: int = 65536) -> bytes:
    """POST an execute request with a chunked body (no declared length) over a raw socket."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/workflows/execute HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
        )
        try:
            for start in range(0, len(body), chunk):
                part = body[start : start + chunk]
                sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole body was sent
        reply = b""
        while data := sock.recv(65536):
            reply += data
    return reply


def test_a_chunked_execute_body_is_counted_against_the_cap(server: Server) -> None:
    small = b'{"workflow": "echo", "input": {"message": "chunked"}, "wait": true}'
    reply = _chunked_execute(server, small, chunk=7)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    assert b'"output":{"message":"chunked"}' in reply
    padding = b" " * (1_048_576 + 1)  # JSON whitespace, one byte over the 1 MiB cap
    refused = _chunked_execute(server, small[:-1] + padding + b"}")
    assert refused.startswith(b"HTTP/1.1 413"), refused[:300]
    assert b"application/problem+json" in refused


@pytest.mark.parametrize("body", [b"", b" \r\n\t "], ids=["empty", "whitespace"])
def test_an_execute_body_without_json_is_a_400(client: httpx.Client, body: bytes) -> None:
    reply = client.post(
        "/workflows/execute", content=body, headers={"content-type": "application/json"}
    )
    assert "is empty" in assert_problem(reply, 400)["detail"]


def test_a_json_media_type_is_read_whatever_its_case_and_parameters(client: httpx.Client) -> None:
    for media_type in ("application/json", "Application/JSON; charset=utf-8"):
        reply = client.post(
            "/workflows/execute", content=orjson.dumps(ECHO), headers={"content-type": media_type}
        )
        assert reply.status_code == 200 and reply.json()["output"] == {"message": "hi"}
    assert_problem(
        client.post("/workflows/execute", content=b"{}", headers={"content-type": "text/plain"}),
        415,
    )
