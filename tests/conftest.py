from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.auth import Accounts, auth_env, create_accounts
from tests.support.backing import backing
from tests.support.server import Server, Worker

MODES = ["embedded", "distributed"]
SESSION_ENV = {
    "NANOBRAIN_WEB_INTERFACE__LIMITS__MAX_UPLOAD_BYTES": str(256 * 1024),
    "NANOBRAIN_WEB_INTERFACE__CACHE_CONFIG__ENABLED": "true",  # for workflows that opt in
}


@dataclass
class Deployment:
    """What the API tests talk to: one API server, plus a worker in distributed mode."""

    mode: str
    server: Server
    workers: list[Worker] = field(default_factory=list)

    @property
    def metrics_urls(self) -> list[str]:
        """Where the processes that run executions publish their metrics."""
        if not self.workers:
            return [f"{self.server.api}/metrics"]
        return [worker.metrics_url for worker in self.workers]


@pytest.fixture(scope="session", params=MODES)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The API suite runs once per mode: embedded (SQLite, in-process), and distributed (this
    run's own PostgreSQL database and Redis prefix, an API server and a `nanobrain worker`)."""
    data_dir = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        server = Server(data_dir, env=SESSION_ENV).start()
        yield Deployment("embedded", server)
        server.kill()
        return
    with backing("api") as services:
        env = {**SESSION_ENV, **services.env, "NANOBRAIN_FILE_STORE": str(data_dir / "files")}
        worker = Worker(data_dir, env).start()
        server = Server(data_dir, env=env)
        try:
            yield Deployment("distributed", server.start(), [worker])
        finally:
            server.kill()
            worker.kill()


@pytest.fixture(scope="session")
def server(deployment: Deployment) -> Server:
    return deployment.server


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
