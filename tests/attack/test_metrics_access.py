"""Class: operational data for anyone who asks. `/metrics` (routes, workflows, volumes, errors)
is for an admin, or for Prometheus with the configured scrape token; so are a worker's metrics
when it serves them beyond its own machine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import Accounts, bearer
from tests.support.backing import backing
from tests.support.cli import run_cli
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server, Worker, child_env

SCRAPE_TOKEN = "scrape-token-of-this-test-0123456789"


def test_metrics_are_for_admins_only_by_default(
    production: Server, production_accounts: Accounts, tls: Tls
) -> None:
    client = https_client(production.api, tls)
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and "nanobrain_" not in anonymous.text
    assert anonymous.headers["content-type"] == "application/problem+json"
    for role in ("developer", "user", "guest"):
        assert client.get("/metrics", headers=production_accounts.headers(role)).status_code == 403
    admin = client.get("/metrics", headers=production_accounts.headers("admin"))
    assert admin.status_code == 200 and "nanobrain_http_requests_total" in admin.text
    # no token is configured here: nothing sent as one opens the door
    assert client.get("/metrics", headers=bearer("none")).status_code == 401


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    env = production_env(tls, NANOBRAIN_METRICS_TOKEN=SCRAPE_TOKEN)
    server = Server(tmp_path_factory.mktemp("scraped"), env=env).start()
    yield server
    server.kill()


def test_prometheus_reads_metrics_with_the_scrape_token(scraped: Server, tls: Tls) -> None:
    client = https_client(scraped.api, tls)
    scrape = client.get("/metrics", headers=bearer(SCRAPE_TOKEN))
    assert scrape.status_code == 200 and "nanobrain_http_requests_total" in scrape.text
    for wrong in (SCRAPE_TOKEN[:-1], SCRAPE_TOKEN + "x", SCRAPE_TOKEN.upper()):
        assert client.get("/metrics", headers=bearer(wrong)).status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": SCRAPE_TOKEN}).status_code == 401
    assert client.get("/metrics").status_code == 401
    # the token is a scrape credential, not an account: it opens nothing else
    assert client.get("/workflows", headers=bearer(SCRAPE_TOKEN)).status_code == 401
    assert client.get("/config", headers=bearer(SCRAPE_TOKEN)).status_code == 401


def test_development_serves_metrics_to_anyone_on_loopback(fresh_server: Server) -> None:
    fresh_server.start()  # auth off: everyone is the local admin, on loopback only
    assert httpx.get(f"{fresh_server.api}/metrics").status_code == 200


def _answer(url: str, headers: dict[str, str] | None = None) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, headers=headers, timeout=2).status_code
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


@pytest.mark.distributed  # a worker needs PostgreSQL and Redis
def test_a_worker_guards_its_metrics_with_the_same_token(tmp_path: Path) -> None:
    with backing("metrics") as services:
        env = {**services.env, "NANOBRAIN_WEB_INTERFACE__MONITORING__METRICS_TOKEN": SCRAPE_TOKEN}
        worker = Worker(tmp_path, env).start(wait=False)
        try:
            base = worker.metrics_url.removesuffix("/metrics")
            assert _answer(f"{base}/health/live") == 200, "a liveness probe needs no token"
            assert _answer(worker.metrics_url) == 401
            assert _answer(worker.metrics_url, bearer("wrong")) == 401
            scrape = httpx.get(worker.metrics_url, headers=bearer(SCRAPE_TOKEN))
            assert scrape.status_code == 200 and "nanobrain_" in scrape.text
        finally:
            worker.kill()


def test_a_worker_with_auth_refuses_to_expose_metrics_without_a_token(tmp_path: Path) -> None:
    result = run_cli(
        "worker", "--data-dir", str(tmp_path), "--metrics-host", "0.0.0.0", "--metrics-port", "0",
        env=child_env({
            "NANOBRAIN_RUNTIME__MODE": "distributed",
            "NANOBRAIN_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
            "NANOBRAIN_REDIS_URL": "redis://127.0.0.1:6379/0",
            "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__ENABLED": "true",
        }),
    )  # fmt: skip
    assert result.returncode == 2 and "metrics_token" in result.stderr
