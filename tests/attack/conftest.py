"""The attack suite's target: one production-profile server over HTTPS, with an account per role.

Tests here act as a hostile client would; each one names the class of attack it covers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.auth import Accounts, create_accounts
from tests.support.production import Tls, production_env, self_signed
from tests.support.server import Server


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return Tls(*self_signed(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="session")
def production(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("production"), env=production_env(tls)).start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def production_accounts(production: Server, tls: Tls) -> Accounts:
    return create_accounts(production.api, verify=tls.context())
