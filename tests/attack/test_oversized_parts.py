"""Class: one part of a multipart body larger than it may be. The `request` JSON part (as a field
or sent as a file) may hold `max_body_bytes`, a file part `max_upload_bytes`; past either, the
answer is 413, given before the rest of the body is read: each request below declares a body far
longer than it sends, so a server that waited for all of it would never answer."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.auth import ADMIN, bearer
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server

MAX_BODY = 64 * 1024
MAX_UPLOAD = 256 * 1024
BOUNDARY = "attack-boundary"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[tuple[Server, str]]:
    env = production_env(
        tls,
        NANOBRAIN_WEB_INTERFACE__LIMITS__MAX_BODY_BYTES=str(MAX_BODY),
        NANOBRAIN_WEB_INTERFACE__LIMITS__MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
    )
    server = Server(tmp_path_factory.mktemp("parts"), env=env).start()
    with https_client(server.api, tls) as client:
        login = client.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
    yield server, login.json()["access_token"]
    server.kill()


def part(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


def send_some(
    server: Server, tls: Tls, token: str, path: str, declared: int, sent: bytes
) -> http.client.HTTPResponse:
    """POST `sent`, the start of a body declared `declared` bytes long, and read the answer."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    connection = tls.context().wrap_socket(raw, server_hostname="127.0.0.1")
    head = (
        f"POST /api/v1{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {bearer(token)['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    connection.sendall(head.encode() + sent)
    response = http.client.HTTPResponse(connection)
    response.begin()  # times out (20 s) if the server waits for the rest
    return response


def assert_too_large(response: http.client.HTTPResponse, limit: int, name: str) -> None:
    body = json.loads(response.read())
    assert response.status == 413, body
    assert response.getheader("content-type") == "application/problem+json"
    assert body["limit"] == limit and f"'{name}'" in body["detail"], body
    assert response.getheader("connection") == "close", "the unread rest is not waited for"


DECLARED = MAX_BODY + MAX_UPLOAD  # within the whole body's cap: only the part's limit applies


def test_a_request_part_over_the_body_limit(limited: tuple[Server, str], tls: Tls) -> None:
    server, token = limited
    start = b'{"workflow": "echo", "input": {"message": "' + b"x" * (MAX_BODY + 10)
    sent = part("request") + start
    response = send_some(server, tls, token, "/workflows/execute", DECLARED, sent)
    assert_too_large(response, MAX_BODY, "request")


def test_a_request_part_sent_as_a_file_over_the_body_limit(
    limited: tuple[Server, str], tls: Tls
) -> None:
    server, token = limited
    sent = part("request", "request.json") + b'{"workflow": "echo", "x": "' + b"y" * MAX_BODY
    response = send_some(server, tls, token, "/workflows/execute", DECLARED, sent)
    assert_too_large(response, MAX_BODY, "request")


def test_a_file_part_over_the_upload_limit(limited: tuple[Server, str], tls: Tls) -> None:
    server, token = limited
    request = part("request") + b'{"workflow": "data-summary"}\r\n'
    sent = request + part("table", "big.csv") + b"a,b\n" + b"1,2\n" * (MAX_UPLOAD // 4 + 10)
    response = send_some(server, tls, token, "/workflows/execute", DECLARED, sent)
    assert_too_large(response, MAX_UPLOAD, "table")
    upload = part("file", "big.bin") + b"\0" * (MAX_UPLOAD + 10)
    assert_too_large(send_some(server, tls, token, "/files", DECLARED, upload), MAX_UPLOAD, "file")


def test_parts_within_their_limits_are_accepted(limited: tuple[Server, str], tls: Tls) -> None:
    server, _ = limited
    with https_client(server.api, tls) as client:
        login = client.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        headers = bearer(login.json()["access_token"])
        request = json.dumps({"workflow": "echo", "input": {"message": "x" * 1000}, "wait": True})
        ran = client.post("/workflows/execute", files={"request": (None, request)}, headers=headers)
        assert ran.status_code == 200, ran.text
        stored = client.post(
            "/files", files={"file": ("ok.bin", b"\1" * (MAX_UPLOAD - 1))}, headers=headers
        )
        assert stored.status_code == 201, stored.text
