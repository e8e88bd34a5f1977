from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import Accounts, auth_env, create_accounts
from tests.support.server import Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-mostly API tests; tests needing their own config start their own."""
    instance = Server(
        tmp_path_factory.mktemp("server"),
        env={"NANOBRAIN_WEB_INTERFACE__LIMITS__MAX_UPLOAD_BYTES": str(256 * 1024)},
    ).start()
    yield instance
    instance.kill()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api, timeout=30) as http:
        yield http


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    instance = Server(tmp_path / "data")
    yield instance
    instance.kill()


@pytest.fixture(scope="session")
def secure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Authentication on; the first admin comes from the environment."""
    instance = Server(tmp_path_factory.mktemp("secure"), env=auth_env()).start()
    yield instance
    instance.kill()


@pytest.fixture(scope="session")
def accounts(secure_server: Server) -> Accounts:
    return create_accounts(secure_server.api)
