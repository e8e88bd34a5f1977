"""Abuse limits and deployment safety: rate limits, login throttling, body limits, CORS, TLS and
the production profile's refusals."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import ADMIN, auth_env, bearer, login
from tests.support.cli import run_cli
from tests.support.production import self_signed
from tests.support.server import Server


def from_address(address: str) -> dict[str, str]:
    """As a proxy says it: the `limited` server believes X-Forwarded-For from loopback, where its
    configured proxy (`server_config.forwarded_allow_ips`) is."""
    return {"X-Forwarded-For": address}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = auth_env(
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__ENABLED="true",
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__GROUPS=json.dumps(
            {"read": "5/minute", "auth": "6/minute"}
        ),
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__LOGIN_THROTTLE__PER_MINUTE="3",
        NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    server = Server(tmp_path_factory.mktemp("limited"), env=env).start()
    yield server
    server.kill()


def test_rate_limits_apply_per_caller_and_route_group(limited: Server) -> None:
    api = limited.api
    root = bearer(login(api, *ADMIN, **from_address("10.0.0.1"))["access_token"])
    created = httpx.post(
        f"{api}/admin/users",
        json={"username": "reader", "password": "reader-password", "role": "guest"},
        headers=root,
    )
    assert created.status_code == 201
    reader = bearer(
        login(api, "reader", "reader-password", **from_address("10.0.0.2"))["access_token"]
    )
    remaining = []
    lean = f"{api}/workflows/{'0' * 32}/status"  # a hot-path route, served by the front door
    for index in range(5):
        response = httpx.get(lean if index % 2 else f"{api}/workflows", headers=reader)
        assert response.status_code == (404 if index % 2 else 200)
        assert response.headers["ratelimit-limit"] == "5"
        remaining.append(int(response.headers["ratelimit-remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    refused = httpx.get(f"{api}/workflows", headers=reader)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert (
        refused.headers["ratelimit-remaining"] == "0"
        and int(refused.headers["ratelimit-reset"]) <= 60
    )
    # another caller has its own budget, and so has another route group
    assert httpx.get(f"{api}/workflows", headers=root).status_code == 200
    key = httpx.post(f"{api}/auth/api-keys", json={"name": "k"}, headers=root).json()["key"]
    assert httpx.get(f"{api}/workflows", headers={"X-API-Key": key}).status_code == 200


def test_failed_authentication_is_limited_per_client_address(limited: Server) -> None:
    api = limited.api
    attacker = from_address("10.0.0.66")
    answers = [
        httpx.get(
            f"{api}/workflows", headers={**attacker, "X-API-Key": f"nbk_guess{i}"}
        ).status_code
        for i in range(8)
    ]
    assert answers[:6] == [401] * 6 and answers[6:] == [429, 429]
    bystander = httpx.get(
        f"{api}/workflows", headers={**from_address("10.0.0.67"), "X-API-Key": "nbk_x"}
    )
    assert bystander.status_code == 401


def test_login_throttling_slows_guessing_but_never_locks_the_owner_out(limited: Server) -> None:
    api = limited.api
    attacker = from_address("10.0.1.66")

    def attempt(password: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{api}/auth/login", json={"username": ADMIN[0], "password": password}, headers=headers
        )

    assert [attempt("guess-one", attacker).status_code for _ in range(3)] == [401] * 3
    throttled = attempt(ADMIN[1], attacker)  # even the right password waits now
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    # the real user, elsewhere, is not held back by the attacker's failures
    assert attempt(ADMIN[1], from_address("10.0.1.1")).status_code == 200
    # and a success clears one's own count
    owner = from_address("10.0.1.2")
    assert [attempt("typo-typo", owner).status_code for _ in range(2)] == [401, 401]
    assert attempt(ADMIN[1], owner).status_code == 200
    assert [attempt("typo-typo", owner).status_code for _ in range(2)] == [401, 401]
    assert attempt(ADMIN[1], owner).status_code == 200


def test_json_strings_and_bodies_are_bounded(client: httpx.Client) -> None:
    long_string = {"workflow": "echo", "input": {"message": "x" * 600_000}, "wait": True}
    response = client.post("/workflows/execute", json=long_string)
    assert response.status_code == 413 and "string longer" in response.json()["detail"]
    deep: object = "x"
    for _ in range(100):
        deep = [deep]
    nested = client.post(
        "/workflows/execute", json={"workflow": "echo", "input": {"message": deep}}
    )
    assert nested.status_code == 400 and "nests deeper" in nested.json()["detail"]
    huge = client.post(
        "/workflows/execute", content=b"[" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413


def test_cors_answers_only_configured_origins(client: httpx.Client) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = client.options(
        "/workflows/execute", headers={"Origin": "http://localhost:3000", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    evil = client.options(
        "/workflows/execute", headers={"Origin": "https://evil.example", **preflight}
    )
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
    simple = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_every_response_carries_the_security_headers(client: httpx.Client) -> None:
    for response in (
        client.get("/health"),
        client.get("/workflows/nope"),
        client.get("/../api/docs"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # not over plain HTTP
    assert client.get("/health").headers["content-security-policy"].startswith("default-src 'none'")
    ui_csp = client.get("/../../").headers["content-security-policy"]
    script_src = next(part for part in ui_csp.split("; ") if part.startswith("script-src"))
    assert script_src == "script-src 'self' 'unsafe-eval'"  # no inline script, no other host


def test_https_is_served_with_the_configured_certificate_and_hsts(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    env = auth_env(
        NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__ENABLED="true",
        NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__CERT_FILE=str(cert_file),
        NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__KEY_FILE=str(key_file),
    )
    server = Server(tmp_path / "data", env=env).start()
    try:
        assert server.url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(cert_file))
        with httpx.Client(base_url=server.api, verify=trust) as https:
            health = https.get("/health")
            assert health.status_code == 200
            assert health.headers["strict-transport-security"].startswith("max-age=")
            token = https.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
            assert token.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{server.port}/api/v1/health", timeout=5)
        with pytest.raises(httpx.ConnectError):  # an unknown certificate is not trusted
            httpx.get(f"{server.api}/health", timeout=5)
    finally:
        server.kill()


PRODUCTION = {
    **{k: v for k, v in os.environ.items() if not k.startswith("NANOBRAIN_")},
    "NANOBRAIN_PROFILE": "production",
    "NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__ENABLED": "false",
    "NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__HOST": "127.0.0.1",
    "JWT_SECRET": "a-production-secret-of-plenty-of-random-bytes-0123456789",
}


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"JWT_SECRET": "short"}, "web_interface.auth_config.jwt_secret: is weak"),
        ({"JWT_SECRET": ""}, "web_interface.auth_config.jwt_secret: is not set"),
        (
            {"NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__ENABLED": "false"},
            "web_interface.auth_config.enabled",
        ),
        (
            {"NANOBRAIN_WEB_INTERFACE__CORS_CONFIG__ALLOW_ORIGINS": '["*"]'},
            "web_interface.cors_config.allow_origins",
        ),
    ],
    ids=["weak secret", "no secret", "auth disabled", "wildcard cors with credentials"],
)
def test_production_refuses_unsafe_settings_naming_them(
    tmp_path: Path, change: dict[str, str], setting: str
) -> None:
    result = run_cli(
        "serve", "--data-dir", str(tmp_path), "--port", "0", env={**PRODUCTION, **change}
    )
    assert result.returncode == 2, result.stderr
    assert setting in result.stderr
    secret = {**PRODUCTION, **change}["JWT_SECRET"]
    assert not secret or secret not in result.stderr


def test_production_starts_when_its_settings_are_safe(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k.startswith(("NANOBRAIN_", "JWT_"))}
    server = Server(
        tmp_path, env={**env, "NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__WORKERS": "1"}
    ).start()
    try:
        assert httpx.get(f"{server.api}/workflows").status_code == 401
        assert PRODUCTION["JWT_SECRET"] not in server.log()
    finally:
        server.kill()


def test_users_create_reads_the_password_from_stdin_and_the_user_can_sign_in(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    from tests.support.server import ROOT

    def create(username: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nanobrain", "users", "create", "--username", username,
             "--role", "developer", "--data-dir", str(tmp_path)],
            input=password + "\n", capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip

    made = create("dana", "dana-password-1")
    assert made.returncode == 0, made.stderr
    assert "dana-password-1" not in made.stdout + made.stderr
    assert create("dana", "dana-password-2").returncode == 2
    weak = create("eve", "short")
    assert weak.returncode == 2 and "at least 8 characters" in weak.stderr
    server = Server(tmp_path, env=auth_env()).start()
    try:
        assert login(server.api, "dana", "dana-password-1")["token_type"] == "bearer"
    finally:
        server.kill()
