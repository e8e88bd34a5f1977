"""OpenID Connect end to end against a real provider process on a loopback port."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.support.auth import auth_env, bearer
from tests.support.oidc_provider import s256
from tests.support.server import ROOT, Server, free_port

CLIENT_ID = "nanobrain-test"
BEARER_AUDIENCE = "another-app"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.oidc_provider", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/.well-known/openid-configuration").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("the OIDC provider did not start")
    yield url
    process.kill()
    process.wait(10)


@pytest.fixture(scope="module")
def server(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    providers = {
        "mock": {"issuer": provider, "client_id": CLIENT_ID, "client_secret": "client-secret-1"}
    }
    issuers = [{"issuer": provider, "audience": BEARER_AUDIENCE}]
    env = auth_env(
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__OIDC_PROVIDERS=json.dumps(providers),
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__BEARER_ISSUERS=json.dumps(issuers),
    )
    instance = Server(tmp_path_factory.mktemp("oidc-app"), env=env).start()
    yield instance
    instance.kill()


def start_sign_in(server: Server, browser: httpx.Client) -> str:
    """The browser asks to sign in; the provider's authorization URL it is sent to."""
    response = browser.get(f"{server.api}/auth/oidc/mock/login")
    assert response.status_code == 302, response.text
    assert (
        "nb_oidc" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]
    )
    return response.headers["location"]


def consent(authorization_url: str, subject: str) -> str:
    """The person signs in at the provider; the callback URL the provider sends them back to."""
    response = httpx.post(authorization_url, data={"sub": subject})
    assert response.status_code == 302, response.text
    return response.headers["location"]


def test_sign_in_with_the_provider_end_to_end(server: Server, provider: str) -> None:
    with httpx.Client() as browser:
        authorization_url = start_sign_in(server, browser)
        assert authorization_url.startswith(f"{provider}/oauth2/authorize")
        query = parse_qs(urlsplit(authorization_url).query)
        assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [CLIENT_ID]
        assert query["state"] and query["nonce"] and "code_verifier" not in query
        callback = consent(authorization_url, "alice@example.org")
        assert callback.startswith(f"{server.api}/auth/oidc/mock/callback")
        tokens = browser.get(callback)
    assert tokens.status_code == 200, tokens.text
    me = httpx.get(f"{server.api}/auth/me", headers=bearer(tokens.json()["access_token"])).json()
    assert me["username"] == "alice@example.org" and me["role"] == "user"
    # a second sign-in finds the same user
    with httpx.Client() as browser:
        again = browser.get(consent(start_sign_in(server, browser), "alice@example.org"))
    same = httpx.get(f"{server.api}/auth/me", headers=bearer(again.json()["access_token"])).json()
    assert same["id"] == me["id"]


def test_the_web_ui_gets_its_buttons_and_the_tokens_back_in_the_fragment(server: Server) -> None:
    assert httpx.get(f"{server.api}/auth/providers").json() == [{"name": "mock", "title": "Mock"}]
    with httpx.Client() as browser:
        started = browser.get(
            f"{server.api}/auth/oidc/mock/login", params={"return_to": "/history"}
        )
        back = browser.get(consent(started.headers["location"], "carol@example.org"))
    assert back.status_code == 303
    destination, _, fragment = back.headers["location"].partition("#")
    assert destination == "/history" and not urlsplit(destination).netloc
    tokens = parse_qs(fragment)
    me = httpx.get(f"{server.api}/auth/me", headers=bearer(tokens["access_token"][0])).json()
    assert me["username"] == "carol@example.org"
    assert tokens["refresh_token"] and tokens["expires_in"]
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        with httpx.Client() as browser:
            started = browser.get(
                f"{server.api}/auth/oidc/mock/login", params={"return_to": elsewhere}
            )
            answer = browser.get(consent(started.headers["location"], "carol@example.org"))
        assert answer.status_code == 200 and "access_token" in answer.json()  # never redirected


def test_a_callback_with_a_wrong_or_missing_state_is_refused(server: Server) -> None:
    with httpx.Client() as browser:
        callback = consent(start_sign_in(server, browser), "mallory@example.org")
        forged = callback.replace("state=", "state=forged")
        refused = browser.get(forged)
        assert refused.status_code == 400 and "state" in refused.json()["detail"]
    with httpx.Client() as other_browser:  # the right state, but not this browser's sign-in
        refused = other_browser.get(callback)
        assert refused.status_code == 400 and "cookie" in refused.json()["detail"]


def test_a_stolen_code_fails_the_pkce_check(server: Server) -> None:
    """The attacker injects the victim's code into a sign-in of their own: their verifier does
    not match the victim's challenge, so the provider refuses the exchange."""
    with httpx.Client() as victim:
        victims_callback = consent(start_sign_in(server, victim), "victim@example.org")
    stolen_code = parse_qs(urlsplit(victims_callback).query)["code"][0]
    with httpx.Client() as attacker:
        own_state = parse_qs(urlsplit(start_sign_in(server, attacker)).query)["state"][0]
        injected = attacker.get(
            f"{server.api}/auth/oidc/mock/callback",
            params={"code": stolen_code, "state": own_state},
        )
    assert injected.status_code == 401, injected.text
    assert "invalid_grant" in injected.json()["detail"]


def test_unknown_providers_and_provider_errors(server: Server) -> None:
    assert httpx.get(f"{server.api}/auth/oidc/nope/login").status_code == 404
    denied = httpx.get(f"{server.api}/auth/oidc/mock/callback", params={"error": "access_denied"})
    assert denied.status_code == 401


def _id_token(provider: str, client_id: str, subject: str) -> str:
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://127.0.0.1/callback",
        "scope": "openid",
        "state": "s",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    code = parse_qs(
        urlsplit(consent(f"{provider}/oauth2/authorize?{urlencode(params)}", subject)).query
    )["code"][0]
    token = httpx.post(
        f"{provider}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": params["redirect_uri"],
            "code_verifier": verifier,
            "client_id": client_id,
            "client_secret": "whatever",
        },
    )
    assert token.status_code == 200, token.text
    return str(token.json()["id_token"])


def test_bearer_tokens_of_a_configured_issuer_are_checked_against_its_jwks(
    server: Server, provider: str
) -> None:
    token = _id_token(provider, BEARER_AUDIENCE, "service-account")
    me = httpx.get(f"{server.api}/auth/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "service-account" and me.json()["role"] == "user"
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    assert httpx.get(f"{server.api}/auth/me", headers=bearer(tampered)).status_code == 401
    for_another_app = _id_token(provider, "some-other-client", "service-account")
    refused = httpx.get(f"{server.api}/auth/me", headers=bearer(for_another_app))
    assert refused.status_code == 401 and "audience" in refused.json()["detail"].lower()
