"""The fault-injection suite (`pytest -m faults`): real PostgreSQL, Redis and nginx, stopped,
restarted, paused and filled up under traffic. Each test prints its outage window, the requests
answered 503 and the executions lost (always 0) with `-s`; tests/faults/README.md has a run's
table. tests/conftest.py marks them `faults` (and `slow`, `distributed`, `nginx`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.outage import FAULT_ENV
from tests.support.backing import backing
from tests.support.cluster import Cluster
from tests.support.services import PrivatePostgres, PrivateRedis


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    instance = PrivatePostgres().init().start()
    try:
        yield instance
    finally:
        instance.remove()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    instance = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> Iterator[Cluster]:
    """nginx in front of two API replicas, and two workers, on the private services."""
    with backing("faults", postgres=postgres.url, redis_url=redis_server.url) as services:
        instance = Cluster(tmp_path_factory.mktemp("cluster"), services, env=FAULT_ENV)
        try:
            yield instance.start()
        finally:
            instance.stop()
            # The services may be down when a test failed midway: bring them back for cleanup.
            if not postgres.running():
                postgres.start()
            if redis_server.process is None:
                redis_server.start()
