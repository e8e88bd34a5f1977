"""Fixtures that several folders share, and the markers each test gets from where it lives and what
it uses (README, "Testing"): everything under integration/, attack/ and faults/ is `slow`;
integration/distributed/, the distributed deployment and the PostgreSQL instances of parametrized
fixtures are `distributed`; the fixtures in FIXTURE_MARKERS that start nginx, Chromium,
PostgreSQL or Redis mark their tests `nginx`, `browser` or `distributed`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import Accounts, auth_env, create_accounts
from tests.support.backing import backing
from tests.support.deployment import MODES, SESSION_ENV, Deployment
from tests.support.server import Server, Worker

HERE = Path(__file__).parent
# Markers by folder (relative to tests/): a test gets those of every folder it is in.
FOLDER_MARKERS: dict[str, tuple[str, ...]] = {
    "integration": ("slow",),
    "integration/distributed": ("distributed",),
    "attack": ("slow",),
    "faults": ("slow", "faults"),
}
# Markers by fixture: a test that uses one of these (directly or through another fixture) gets them.
FIXTURE_MARKERS: dict[str, tuple[str, ...]] = {
    "browser": ("browser",),  # integration/ui: Chromium through Playwright
    "cluster": ("nginx", "distributed"),  # nginx in front of replicas and workers
    "through_nginx": ("nginx",),
    "nginx_binary": ("nginx",),
    "postgres": ("distributed",),  # tests/faults: private PostgreSQL and Redis instances
    "redis_server": ("distributed",),
}

# A fixture parametrized over backends (the `deployment` modes, the attack suite's databases):
# the instances with one of these values need the machine's PostgreSQL and Redis.
DISTRIBUTED_PARAMS = {"distributed", "postgresql"}


def markers_of(item: pytest.Item) -> set[str]:
    path = Path(str(item.fspath)).parent
    folder = path.relative_to(HERE).as_posix() if path.is_relative_to(HERE) else ""
    names = {
        name
        for prefix, marks in FOLDER_MARKERS.items()
        if folder == prefix or folder.startswith(prefix + "/")
        for name in marks
    }
    for fixture in getattr(item, "fixturenames", ()):
        names.update(FIXTURE_MARKERS.get(fixture, ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None and DISTRIBUTED_PARAMS & {
        value for value in callspec.params.values() if isinstance(value, str)
    }:
        names.add("distributed")
    return names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(markers_of(item) - {mark.name for mark in item.iter_markers()}):
            item.add_marker(name)


@pytest.fixture
def nginx_binary() -> str:
    """The nginx executable (scripts/setup-tests.sh installs it)."""
    return shutil.which("nginx") or "/usr/sbin/nginx"


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
