"""Class: values a route parses from the URL. Every query and path parameter of every route (read
from the OpenAPI document, so a new route is covered the day it is added), and the
`Last-Event-ID` header of the event streams, are sent malformed: wrong types, numbers past 64
bits, Unicode digits, NUL bytes, naive and out-of-range datetimes, forged cursors. Each is a 4xx
problem (or, where the value is merely unusual, a normal answer), never a 5xx, and the keep-alive
connection survives every one of them. On SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.auth import ADMIN, bearer
from tests.support.backing import POSTGRES, backing
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


MALFORMED = [
    "",
    "-1",
    "0",
    "1.5",
    "1e3",
    "NaN",
    "true",
    "null",
    "[]",
    "{}",
    str(2**64),
    str(-(2**70)),
    "9" * 40,
    "\u00b2",  # a digit to str.isdigit(), not to int()
    "\u0661\u0662",  # Arabic-Indic 12
    "\x00",
    "a\x00b",
    "\ufffd\u202e",
    "x" * 3000,
    "../../etc/passwd",
    "2024-01-01",
    "2024-01-01T00:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999+00:00",
    _cursor(["2024-01-01", "x"]),
    _cursor(["2024-01-01T00:00:00", "x"]),
    _cursor(["0001-01-01T00:00:00+14:00", "x"]),
    _cursor([1, 2]),
    _cursor(["2024-01-01T00:00:00+00:00", {"id": 1}]),
    _cursor(["2024-01-01T00:00:00+00:00", "\x00"]),
    _cursor({"a": 1}),
    "%",
    "%zz",
    "a&b=c#d",
]


@dataclass(frozen=True)
class Parameter:
    method: str
    path: str
    name: str
    where: str  # "query", "path" or "header"

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.name}"


def parameters_of(document: dict[str, Any]) -> list[Parameter]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = parameter["in"]
                if where in ("query", "path"):
                    found.append(Parameter(method.upper(), path, parameter["name"], where))
            if path.endswith("/events") or path.endswith("/chat/stream"):
                found.append(Parameter(method.upper(), path, "Last-Event-ID", "header"))
    return found


def _document() -> dict[str, Any]:
    from nanobrain.config import load_settings
    from nanobrain.core.registry import discover
    from nanobrain.web.app import create_api
    from tests.support.server import FLOWS

    api = create_api(load_settings(environ={}), discover(["nanobrain.examples", FLOWS]))
    return api.openapi()


PARAMETERS = parameters_of(_document())
UNLIMITED = {"NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__ENABLED": "false"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tls: Tls
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A production server (rate limits off, so that every value reaches its handler), and an
    admin's headers (every route lets an admin in)."""
    data = tmp_path_factory.mktemp(f"malformed-{request.param}")
    if request.param == "sqlite":
        server = Server(data, env=production_env(tls, **UNLIMITED)).start()
        try:
            yield server, admin_headers(server, tls)
        finally:
            server.kill()
        return
    with backing("malformed") as services:
        url = f"{POSTGRES.replace('postgresql', 'postgresql+asyncpg')}/{services.database}"
        env = production_env(tls, **UNLIMITED, NANOBRAIN_DATABASE_URL=url)
        server = Server(data, env=env).start()
        try:
            yield server, admin_headers(server, tls)
        finally:
            server.kill()


def admin_headers(server: Server, tls: Tls) -> dict[str, str]:
    """An admin's headers, and `X-Execution` naming one of its finished executions (path
    parameters other than the one under test name something that exists, so that the route
    goes on to parse its query)."""
    with https_client(server.api, tls) as client:
        login = client.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        headers = bearer(login.json()["access_token"])
        ran = client.post(
            "/workflows/execute",
            json={"workflow": "echo", "input": {"message": "hi"}, "wait": True},
            headers=headers,
        )
        assert ran.status_code == 200, ran.text
        return {**headers, "X-Execution": ran.json()["execution_id"]}


def header_bytes(value: str) -> bytes:
    """As a client may send it: latin-1 where it can (b"\xb2" is '²' to the server)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def request_for(
    parameter: Parameter, value: str, execution_id: str
) -> tuple[str, str, dict[str, bytes]]:
    """(method, URL path with query, extra headers) sending `value` as `parameter`."""
    path = parameter.path.removeprefix("/api/v1")
    headers: dict[str, bytes] = {}
    query = ""
    for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
        if parameter.where == "path":
            filler = quote(value, safe="") or "%20"
        else:
            filler = execution_id if name == "execution_id" else "0" * 32
        path = path.replace("{" + name + "}", filler)
    if parameter.where == "query":
        query = "?" + parameter.name + "=" + quote(value, safe="")
        if parameter.name in ("limit", "after", "cursor"):  # repeated: the last one counts
            query = f"?{parameter.name}=1&" + query[1:]
    elif parameter.where == "header":
        headers[parameter.name] = header_bytes(value)
    return parameter.method, path + query, headers


def _local_address(response: httpx.Response) -> Any:
    return response.extensions["network_stream"].get_extra_info("client_addr")


@pytest.mark.parametrize("parameter", PARAMETERS, ids=str)
def test_malformed_values_are_client_errors_and_keep_the_connection(
    parameter: Parameter, target: tuple[Server, dict[str, str]], tls: Tls
) -> None:
    server, admin = target
    answers: dict[str, int] = {}
    connections = set()
    with https_client(server.api, tls, headers=admin) as client:
        for value in MALFORMED:
            method, url, headers = request_for(parameter, value, admin["X-Execution"])
            if parameter.where == "header" and (not value or any(ord(c) < 32 for c in value)):
                continue  # not sendable as a header
            body = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
            try:
                with client.stream(method, url, headers=headers, **body) as response:
                    status = response.status_code
                    response.read()
                    if status >= 400:
                        assert response.headers["content-type"].startswith(
                            "application/problem+json"
                        ), (value, response.text)
                    connections.add(_local_address(response))
            except httpx.TimeoutException:
                pytest.fail(f"{value!r}: no answer")
            answers[value[:40]] = status
    faults = {value: status for value, status in answers.items() if status >= 500}
    assert not faults, faults
    assert 429 not in answers.values()
    assert len(connections) == 1, "the server closed the keep-alive connection"
