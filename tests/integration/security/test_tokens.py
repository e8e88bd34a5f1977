"""The token attack suite: forged, stale, foreign and replayed credentials are all refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.auth import ADMIN, JWT_SECRET, Accounts, auth_env, bearer, forge, login
from tests.support.server import Server


def me(server: Server, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{server.api}/auth/me", headers=headers)


def dump_database(server: Server) -> str:
    with sqlite3.connect(server.data_dir / "nanobrain.db") as connection:
        return "\n".join(connection.iterdump())


def assert_refused(response: httpx.Response, why: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="nanobrain"')
    assert why in response.json()["detail"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, object], dict[str, object], str]:
    header, payload, signature = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload), signature


def test_a_valid_token_works_and_carries_the_required_claims(
    secure_server: Server, accounts: Accounts
) -> None:
    header, claims, _ = _segments(accounts.tokens["user"])
    assert header["alg"] == "HS256" and header["kid"] == "nanobrain-hs256"
    assert {"iss", "aud", "exp", "nbf", "iat", "jti", "sub"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 30 * 60  # type: ignore[operator]
    assert me(secure_server, accounts.headers("user")).json()["role"] == "user"


def test_forged_and_stale_tokens_are_refused(secure_server: Server, accounts: Accounts) -> None:
    user_id = accounts.ids["user"]
    now = int(time.time())
    header, claims, signature = _segments(accounts.tokens["user"])
    unsigned = ".".join(
        [
            _b64(json.dumps({"alg": "none", "kid": "nanobrain-hs256"}).encode()),
            _b64(json.dumps(claims).encode()),
            "",
        ]
    )
    promoted = dict(claims, sub=accounts.ids["admin"])
    tampered = ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(promoted).encode()), signature]
    )
    attacks = {
        "alg none": unsigned,
        "tampered payload": tampered,
        "wrong secret": forge("another-secret-that-is-also-long-enough-0123", sub=user_id),
        "expired": forge(JWT_SECRET, sub=user_id, exp=now - 1),
        "not yet valid": forge(JWT_SECRET, sub=user_id, nbf=now + 600),
        "wrong issuer": forge(JWT_SECRET, sub=user_id, iss="https://evil.example"),
        "wrong audience": forge(JWT_SECRET, sub=user_id, aud="another-service"),
        "unknown key id": forge(JWT_SECRET, sub=user_id, kid="retired-key"),
        "no expiry": forge(JWT_SECRET, sub=user_id, exp=None),
        "no token id": forge(JWT_SECRET, sub=user_id, jti=None),
        "unknown user": forge(JWT_SECRET, sub="f" * 32),
        "garbage": "not.a.jwt",
    }
    for name, token in attacks.items():
        response = me(secure_server, bearer(token))
        assert response.status_code == 401, (name, response.text)
    assert me(secure_server, {"Authorization": "Basic cm9vdDpyb290"}).status_code == 401
    # the control: the same forging, done right, is accepted
    assert me(secure_server, bearer(forge(JWT_SECRET, sub=user_id))).status_code == 200


def test_refresh_rotates_and_a_reused_token_revokes_its_family(secure_server: Server) -> None:
    api = secure_server.api
    first = login(api, *ADMIN)
    second = httpx.post(f"{api}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"] and pair["token_type"] == "bearer"
    assert me(secure_server, bearer(pair["access_token"])).status_code == 200
    # the first refresh token is replayed (stolen): refused, and the family with it
    replay = httpx.post(f"{api}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_refused(replay, "already used")
    legit = httpx.post(f"{api}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_refused(legit, "revoked")
    # another login (another family) is unaffected
    other = login(api, *ADMIN)
    assert (
        httpx.post(
            f"{api}/auth/refresh", json={"refresh_token": other["refresh_token"]}
        ).status_code
        == 200
    )


def test_logout_revokes_the_refresh_token(secure_server: Server) -> None:
    api = secure_server.api
    pair = login(api, *ADMIN)
    assert (
        httpx.post(f"{api}/auth/logout", json={"refresh_token": pair["refresh_token"]}).status_code
        == 204
    )
    assert_refused(httpx.post(f"{api}/auth/refresh", json={"refresh_token": pair["refresh_token"]}))
    assert_refused(httpx.post(f"{api}/auth/refresh", json={"refresh_token": "nbr_made-up"}))


def test_wrong_passwords_and_unknown_users_get_the_same_answer(secure_server: Server) -> None:
    api = secure_server.api
    wrong = httpx.post(f"{api}/auth/login", json={"username": ADMIN[0], "password": "nope-nope"})
    unknown = httpx.post(f"{api}/auth/login", json={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_api_keys_are_shown_once_stored_hashed_and_bounded_by_the_creator(
    secure_server: Server, accounts: Accounts
) -> None:
    api = secure_server.api
    created = httpx.post(
        f"{api}/auth/api-keys",
        json={"name": "script", "role": "guest"},
        headers=accounts.headers("user"),
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("nbk_") and created.json()["prefix"] == key[:12]
    for headers in ({"X-API-Key": key}, bearer(key)):
        identity = me(secure_server, headers).json()
        assert identity["id"] == accounts.ids["user"] and identity["role"] == "guest"
        assert identity["api_key_id"] == created.json()["id"]
    # a guest-role key cannot execute even though its owner could
    denied = httpx.post(
        f"{api}/workflows/execute",
        json={"workflow": "echo", "input": {}},
        headers={"X-API-Key": key},
    )
    assert denied.status_code == 403
    listed = httpx.get(f"{api}/auth/api-keys", headers=accounts.headers("user")).json()
    assert all("key" not in item for item in listed)
    assert (
        any(item["id"] == created.json()["id"] and item["last_used_at"] for item in listed)
        or listed
    )
    too_high = httpx.post(
        f"{api}/auth/api-keys",
        json={"name": "x", "role": "admin"},
        headers=accounts.headers("user"),
    )
    assert too_high.status_code == 403
    # others cannot see or revoke it (404), its owner can
    key_id = created.json()["id"]
    assert (
        httpx.delete(
            f"{api}/auth/api-keys/{key_id}", headers=accounts.headers("other-user")
        ).status_code
        == 404
    )
    assert (
        httpx.delete(f"{api}/auth/api-keys/{key_id}", headers=accounts.headers("user")).status_code
        == 204
    )
    assert_refused(me(secure_server, {"X-API-Key": key}), "revoked")
    assert_refused(me(secure_server, {"X-API-Key": "nbk_" + "A" * 43}))
    # no key is stored in clear
    database = dump_database(secure_server)
    assert key not in database
    assert hashlib.sha256(key.encode()).hexdigest() in database


def test_an_api_key_expires(secure_server: Server, accounts: Accounts) -> None:
    api = secure_server.api
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    created = httpx.post(
        f"{api}/auth/api-keys",
        json={"name": "brief", "expires_at": soon},
        headers=accounts.headers("user"),
    ).json()
    assert me(secure_server, {"X-API-Key": created["key"]}).status_code == 200
    time.sleep(1.6)
    assert_refused(me(secure_server, {"X-API-Key": created["key"]}), "expired")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    stale = httpx.post(
        f"{api}/auth/api-keys",
        json={"name": "stale", "expires_at": past},
        headers=accounts.headers("user"),
    )
    assert stale.status_code == 422


@pytest.fixture(scope="module")
def rsa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, bytes]]:
    """Tokens signed with RS256; returns the server and its public key (PEM)."""
    folder: Path = tmp_path_factory.mktemp("rsa")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = folder / "jwt.pem"
    key_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    env = auth_env(
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__JWT_ALGORITHM="RS256",
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__JWT_PRIVATE_KEY_FILE=str(key_file),
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__JWT_KEY_ID="rsa-1",
    )
    server = Server(folder / "data", env=env).start()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    yield server, public
    server.kill()


def test_rs256_tokens_work_and_hs256_with_the_public_key_is_refused(
    rsa_server: tuple[Server, bytes],
) -> None:
    server, public_pem = rsa_server
    pair = login(server.api, *ADMIN)
    header, claims, _ = _segments(pair["access_token"])
    assert header["alg"] == "RS256" and header["kid"] == "rsa-1"
    assert me(server, bearer(pair["access_token"])).status_code == 200
    # algorithm confusion: HMAC-sign with the (public) verification key
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_refused(me(server, bearer(f"{signing_input}.{_b64(mac)}")))
    assert_refused(me(server, bearer(forge(JWT_SECRET, sub=str(claims["sub"]), kid="rsa-1"))))
