"""Throw-away principals for the attack suite: a user of a role, signed in, that a test may demote,
disable, delete or sign out without disturbing the shared accounts."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from tests.support.auth import bearer
from tests.support.production import Tls
from tests.support.waiting import wait_until

T = TypeVar("T")


@dataclass
class Principal:
    id: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def make_user(api: str, tls: Tls, admin: dict[str, str], role: str) -> Principal:
    """A new user of `role`, signed in."""
    username = f"{role}-{secrets.token_hex(4)}"
    password = f"{username}-password"
    with httpx.Client(base_url=api, verify=tls.context(), timeout=30) as http:
        created = http.post(
            "/admin/users",
            json={"username": username, "password": password, "role": role},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        tokens = http.post("/auth/login", json={"username": username, "password": password})
        assert tokens.status_code == 200, tokens.text
    pair = tokens.json()
    return Principal(
        created.json()["id"], username, password, pair["access_token"], pair["refresh_token"]
    )


def eventually(check: Callable[[], T | None], timeout: float = 15, interval: float = 0.2) -> T:
    """Poll `check` until it gives something truthy, or fail at the deadline."""
    return wait_until(check, timeout, interval)  # type: ignore[arg-type]


def history(http: httpx.Client, session_id: str, headers: dict[str, str]) -> list[Any]:
    response = http.get("/chat/history", params={"session_id": session_id}, headers=headers)
    assert response.status_code == 200, response.text
    messages: list[Any] = response.json()
    return messages
