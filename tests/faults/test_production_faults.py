"""The same outages on the production profile: HTTPS, authentication and rate limits on (their
counters in Redis), so that every request also needs its credentials checked against the
database (past a few seconds' cache) and its budget counted in Redis while they are out. An
outage must not pass for bad credentials (401) or a bug (500): 503 with `Retry-After`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.outage import FAULT_ENV, through_outage
from tests.support.auth import ADMIN, login
from tests.support.backing import backing
from tests.support.production import Tls, production_env, self_signed
from tests.support.server import Server, Worker
from tests.support.services import PrivatePostgres, PrivateRedis


@pytest.fixture(scope="module")
def production(
    tmp_path_factory: pytest.TempPathFactory, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> Iterator[tuple[Server, str]]:
    """One replica and one worker on the production profile; an admin's access token."""
    directory = tmp_path_factory.mktemp("production")
    tls = Tls(*self_signed(directory / "tls"))
    with backing("prodfaults", postgres=postgres.url, redis_url=redis_server.url) as services:
        env = {
            **production_env(tls),
            **services.env,
            **FAULT_ENV,
            "NANOBRAIN_FILE_STORE": str(directory / "files"),
        }
        worker = Worker(directory / "worker", env).start()
        server = Server(directory / "api", env=env)
        try:
            server.start()
            yield server, login(server.api, *ADMIN, verify=False)["access_token"]
        finally:
            server.kill()
            worker.kill()
            if not postgres.running():
                postgres.start()
            if redis_server.process is None:
                redis_server.start()


def test_postgres_restarts_on_the_production_profile(
    production: tuple[Server, str], postgres: PrivatePostgres
) -> None:
    server, token = production
    through_outage(
        server.url,
        "database",
        postgres.stop,
        postgres.start,
        token=token,
        name="database restart (production profile)",
    )


def test_redis_restarts_on_the_production_profile(
    production: tuple[Server, str], redis_server: PrivateRedis
) -> None:
    server, token = production
    through_outage(
        server.url,
        "redis",
        redis_server.stop,
        redis_server.start,
        token=token,
        name="redis restart (production profile)",
    )


pytestmark = pytest.mark.timeout(300)
