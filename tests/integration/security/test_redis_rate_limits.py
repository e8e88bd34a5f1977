"""Rate limits shared by replicas through Redis (skipped where no redis-server is installed)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import ADMIN, auth_env, bearer, login
from tests.support.server import Server, free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.kill()
    process.wait(10)


def test_replicas_share_one_budget_through_redis(tmp_path: Path, redis_url: str) -> None:
    env = auth_env(
        NANOBRAIN_REDIS_URL=redis_url,
        NANOBRAIN_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__ENABLED="true",
        NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__GROUPS=json.dumps({"read": "4/minute"}),
    )
    # redis_url alone keeps them embedded (runtime.mode): Redis holds only the shared budget.
    first = Server(tmp_path / "a", env=env).start()
    second = Server(tmp_path / "b", env=env).start()
    try:
        token = bearer(login(first.api, *ADMIN)["access_token"])
        answers = [
            httpx.get(f"{replica.api}/workflows", headers=token).status_code
            for replica in (first, second, first, second, first, second)
        ]
        assert answers == [200, 200, 200, 200, 429, 429]
    finally:
        first.kill()
        second.kill()
