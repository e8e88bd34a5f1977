"""The attack suite's target: one production-profile server over HTTPS, with an account per role.

Tests here act as a hostile client would; each one names the class of attack it covers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.auth import ADMIN, Accounts, bearer, create_accounts, login
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


# A second production server whose limits are small enough to reach in a test: the execute rate
# limit, the live subscriptions per socket and the API keys per user. Sign-ins are allowed more
# often than in production, since its tests make a user (and sign it in) per case.
TIGHT = {
    "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__GROUPS__EXECUTE": "4/minute",
    "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__RATE_LIMITS__GROUPS__AUTH": "1000/minute",
    "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__MAX_API_KEYS_PER_USER": "3",
    "NANOBRAIN_REALTIME__WS_MAX_SUBSCRIPTIONS": "1",
}


@pytest.fixture(scope="session")
def tight(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("tight"), env=production_env(tls, **TIGHT)).start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def tight_admin(tight: Server, tls: Tls) -> dict[str, str]:
    return bearer(login(tight.api, *ADMIN, verify=tls.context())["access_token"])
