"""Class: a client that says where it comes from. `X-Forwarded-For` and `X-Forwarded-Proto` are
believed only from the proxies listed in `server_config.forwarded_allow_ips` (none by default):
from anyone else, rotating them changes neither the login throttle, nor the anonymous rate
limit, nor the address the audit log records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.auth import ADMIN, bearer
from tests.support.cluster import Nginx
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server

LIMITS = {
    "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__GROUPS": json.dumps({"auth": "12/minute"}),
    "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__LOGIN_THROTTLE__PER_MINUTE": "3",
}
VICTIM = ("forwarded-victim", "forwarded-victim-password")


def start(tmp_path_factory: pytest.TempPathFactory, tls: Tls, **extra: str) -> Server:
    env = production_env(tls, **LIMITS, **extra)
    return Server(tmp_path_factory.mktemp("forwarded"), env=env).start()


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    """The production default: no proxy configured."""
    server = start(tmp_path_factory, tls)
    yield server
    server.kill()


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    """Its proxy connects from loopback, and is configured as such."""
    trusted = {"NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__FORWARDED_ALLOW_IPS": "127.0.0.1"}
    server = start(tmp_path_factory, tls, **trusted)
    yield server
    server.kill()


def spoofed(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}


def admin_with_victim(client: httpx.Client, **headers: str) -> dict[str, str]:
    login = client.post(
        "/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}, headers=headers
    )
    root = bearer(login.json()["access_token"])
    created = client.post(
        "/admin/users",
        json={"username": VICTIM[0], "password": VICTIM[1], "role": "user"},
        headers=root,
    )
    assert created.status_code == 201, created.text
    return root


def sign_in(client: httpx.Client, password: str, address: str) -> int:
    body = {"username": VICTIM[0], "password": password}
    return client.post("/auth/login", json=body, headers=spoofed(address)).status_code


def failed_logins(client: httpx.Client, root: dict[str, str]) -> list[dict[str, Any]]:
    query = {"action": "login", "outcome": "failure"}
    page = client.get("/admin/audit", params=query, headers=root)
    assert page.status_code == 200, page.text
    return [entry for entry in page.json()["items"] if entry["actor"] == VICTIM[0]]


def test_forwarded_headers_from_an_unconfigured_peer_change_nothing(
    untrusting: Server, tls: Tls
) -> None:
    client = https_client(untrusting.api, tls)
    root = admin_with_victim(client, **spoofed("10.7.0.1"))
    # the login throttle: three failures "from" three addresses are three failures from one
    assert [sign_in(client, "guess", f"10.7.1.{i}") for i in range(3)] == [401] * 3
    assert sign_in(client, VICTIM[1], "10.7.1.99") == 429, "still throttled"
    # the audit log records the peer, never what it claims
    assert {entry["client"] for entry in failed_logins(client, root)} == {"127.0.0.1"}
    # the anonymous limit (failed authentication, per address): 12 a minute, 5 used above
    answers = [
        client.get(
            "/workflows", headers={**spoofed(f"10.7.2.{i}"), "X-API-Key": f"nbk_guess{i}"}
        ).status_code
        for i in range(9)
    ]
    assert answers == [401] * 7 + [429] * 2


def test_forwarded_headers_from_the_configured_proxy_are_believed(
    behind_proxy: Server, tls: Tls
) -> None:
    client = https_client(behind_proxy.api, tls)
    root = admin_with_victim(client, **spoofed("10.8.0.1"))
    assert [sign_in(client, "guess", "10.8.1.66") for _ in range(3)] == [401] * 3
    assert sign_in(client, VICTIM[1], "10.8.1.66") == 429
    assert sign_in(client, VICTIM[1], "10.8.1.2") == 200, "another client is not held back"
    # a chain: the proxy appended the address it saw; what the client wrote before it is not
    # believed (the rightmost address the proxies do not own is the client)
    assert sign_in(client, "guess", "6.6.6.6, 10.8.1.77") == 401
    clients = [entry["client"] for entry in failed_logins(client, root)]
    assert sorted(clients) == ["10.8.1.66"] * 3 + ["10.8.1.77"], clients


@pytest.fixture(scope="module")
def through_nginx(
    tmp_path_factory: pytest.TempPathFactory, tls: Tls
) -> Iterator[tuple[Nginx, Server]]:
    """The shipped proxy rules (deploy/nginx) in front of a plain-HTTP replica that trusts the
    proxy, as deploy/ sets them up."""
    env = production_env(
        tls,
        **LIMITS,
        NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__ENABLED="false",
        NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    replica = Server(tmp_path_factory.mktemp("replica"), env=env).start()
    nginx = Nginx(tmp_path_factory.mktemp("nginx"), [replica.port]).start()
    yield nginx, replica
    nginx.stop()
    replica.kill()


def test_behind_the_shipped_nginx_a_client_cannot_claim_another_address(
    through_nginx: tuple[Nginx, Server],
) -> None:
    nginx, replica = through_nginx
    client = httpx.Client(base_url=nginx.api, verify=False, timeout=30)
    root = admin_with_victim(client)
    assert sign_in(client, "guess", "10.9.0.1") == 401
    assert sign_in(client, "guess", "10.9.0.2") == 401
    assert {entry["client"] for entry in failed_logins(client, root)} == {"127.0.0.1"}
    # the proxy's X-Forwarded-Proto is believed: the plain-HTTP replica knows the client used
    # HTTPS, and answers with HSTS
    assert "strict-transport-security" in client.get("/health/live").headers
    assert "strict-transport-security" not in httpx.get(f"{replica.api}/health/live").headers
