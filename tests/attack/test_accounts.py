"""Classes: credentials that outlive their login, budgets multiplied by minting keys, the last
admin removed, and `write` used as if it were `admin`."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support.auth import ADMIN, Accounts, bearer, login
from tests.support.backing import backing
from tests.support.principals import eventually, history, make_user
from tests.support.production import Tls, production_env
from tests.support.server import Server
from tests.support.ws import open_socket, receive, send

REVOKED_WITHIN = 10.0  # seconds (credential_cache_seconds is 5)


@pytest.fixture
def tight_http(tight: Server, tls: Tls) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tight.api, verify=tls.context(), timeout=30) as client:
        yield client


def refused_soon(http: httpx.Client, headers: dict[str, str]) -> None:
    eventually(
        lambda: http.get("/auth/me", headers=headers).status_code == 401, REVOKED_WITHIN, 0.5
    )


def test_signing_out_ends_the_logins_access_token_too(
    tight: Server, tls: Tls, tight_admin: dict[str, str], tight_http: httpx.Client
) -> None:
    user = make_user(tight.api, tls, tight_admin, "user")
    other_login = login(tight.api, user.username, user.password, verify=tls.context())
    assert tight_http.get("/auth/me", headers=user.headers).status_code == 200
    out = tight_http.post("/auth/logout", json={"refresh_token": user.refresh_token})
    assert out.status_code == 204
    refused_soon(tight_http, user.headers)
    # Only that login ends: the user's other sign-in goes on.
    other = tight_http.get("/auth/me", headers=bearer(other_login["access_token"]))
    assert other.status_code == 200


def test_a_reused_refresh_token_ends_every_access_token_of_its_login(
    tight: Server, tls: Tls, tight_admin: dict[str, str], tight_http: httpx.Client
) -> None:
    user = make_user(tight.api, tls, tight_admin, "user")
    rotated = tight_http.post("/auth/refresh", json={"refresh_token": user.refresh_token})
    assert rotated.status_code == 200
    newest = bearer(rotated.json()["access_token"])
    assert tight_http.get("/auth/me", headers=newest).status_code == 200
    stolen = tight_http.post("/auth/refresh", json={"refresh_token": user.refresh_token})
    assert stolen.status_code == 401 and "already used" in stolen.json()["detail"]
    refused_soon(tight_http, user.headers)
    refused_soon(tight_http, newest)


def test_every_api_key_of_a_user_draws_on_the_users_one_budget(
    tight: Server, tls: Tls, tight_admin: dict[str, str], tight_http: httpx.Client
) -> None:
    """`tight` allows 4 executes a minute per user."""
    user = make_user(tight.api, tls, tight_admin, "user")
    keys = [
        tight_http.post("/auth/api-keys", json={"name": f"k{i}"}, headers=user.headers).json()
        for i in range(2)
    ]
    run = {"workflow": "echo", "input": {"message": "x"}, "wait": True}
    codes = [
        tight_http.post(
            "/workflows/execute", json=run, headers={"X-API-Key": keys[i % 2]["key"]}
        ).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 200]
    for headers in ({"X-API-Key": keys[0]["key"]}, {"X-API-Key": keys[1]["key"]}, user.headers):
        over = tight_http.post("/workflows/execute", json=run, headers=headers)
        assert over.status_code == 429 and over.headers["RateLimit-Remaining"] == "0"
    fresh = tight_http.post("/auth/api-keys", json={"name": "new"}, headers=user.headers).json()
    third = tight_http.post("/workflows/execute", json=run, headers={"X-API-Key": fresh["key"]})
    assert third.status_code == 429  # a new key is no new budget


def test_a_user_has_a_bounded_number_of_active_api_keys(
    tight: Server, tls: Tls, tight_admin: dict[str, str], tight_http: httpx.Client
) -> None:
    """`tight` allows 3 active keys per user."""
    user = make_user(tight.api, tls, tight_admin, "user")

    def create(name: str) -> httpx.Response:
        return tight_http.post("/auth/api-keys", json={"name": name}, headers=user.headers)

    made = [create(f"k{i}") for i in range(3)]
    assert [m.status_code for m in made] == [201, 201, 201]
    over = create("one too many")
    assert over.status_code == 409 and "revoke" in over.json()["detail"], over.text
    assert "nbk_" not in over.text
    revoked = tight_http.delete(f"/auth/api-keys/{made[0].json()['id']}", headers=user.headers)
    assert revoked.status_code == 204
    assert create("in its place").status_code == 201
    assert create("again too many").status_code == 409
    # At once, too: many requests together still make no more than the cap.
    other = make_user(tight.api, tls, tight_admin, "user")
    results: list[int] = []

    def race() -> None:
        response = tight_http.post("/auth/api-keys", json={"name": "x"}, headers=other.headers)
        results.append(response.status_code)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * 3 + [409] * 5


def test_write_sees_other_users_work_but_only_admin_cancels_or_deletes_it(
    production: Server, production_accounts: Accounts, tls: Tls
) -> None:
    accounts = production_accounts
    with httpx.Client(base_url=production.api, verify=tls.context(), timeout=30) as http:
        owner = accounts.headers("user")
        run = http.post(
            "/workflows/execute",
            json={"workflow": "simulation", "input": {"steps": 100, "step_seconds": 0.2}},
            headers=owner,
        ).json()["execution_id"]
        chat = http.post("/chat", json={"message": "keep me", "workflow": "parrot"}, headers=owner)
        session = chat.json()["session_id"]
        try:
            developer = accounts.headers("developer")
            assert http.get(f"/workflows/{run}/status", headers=developer).status_code == 200
            seen = http.get("/chat/history", params={"session_id": session}, headers=developer)
            assert seen.status_code == 200
            assert http.delete(f"/workflows/{run}/cancel", headers=developer).status_code == 403
            assert http.delete(f"/chat/sessions/{session}", headers=developer).status_code == 403
            with open_socket(production.api, accounts.tokens["developer"], tls.context()) as ws:
                assert receive(ws)["type"] == "ready"
                send(ws, type="cancel", id="c", execution_id=run)
                refused = receive(ws)
                assert refused["type"] == "error" and refused["data"]["status"] == 403
            stranger = accounts.headers("other-user")  # may not even see them
            assert http.delete(f"/workflows/{run}/cancel", headers=stranger).status_code == 404
            assert http.delete(f"/chat/sessions/{session}", headers=stranger).status_code == 404
            assert http.get(f"/workflows/{run}/status", headers=owner).json()["status"] in (
                "queued",
                "running",
            )
            assert len(history(http, session, owner)) == 2
            admin = accounts.headers("admin")
            assert http.delete(f"/workflows/{run}/cancel", headers=admin).status_code == 202
            assert http.delete(f"/chat/sessions/{session}", headers=admin).status_code == 204
        finally:
            http.delete(f"/workflows/{run}/cancel", headers=accounts.headers("admin"))


@pytest.fixture(params=["sqlite", "postgresql"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tls: Tls
) -> Iterator[list[Server]]:
    """A server whose only admin is the first one (the tests here demote admins): one on SQLite,
    or two replicas sharing a PostgreSQL database (requests then race across processes)."""
    env = production_env(tls, NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__MAX_API_KEYS_PER_USER="3")
    if request.param == "sqlite":
        server = Server(tmp_path_factory.mktemp("lone-admin"), env=env).start()
        yield [server]
        server.kill()
        return
    with backing("admins") as services:
        env["NANOBRAIN_DATABASE_URL"] = services.env["NANOBRAIN_DATABASE_URL"]
        servers = [Server(tmp_path_factory.mktemp("replica"), env=env) for _ in range(2)]
        try:
            for server in servers:
                server.start()
            yield servers
        finally:
            for server in servers:
                server.kill()


def test_the_last_active_admin_cannot_be_demoted_disabled_or_deleted_even_by_itself(
    replicas: list[Server], tls: Tls
) -> None:
    lone_admin = replicas[0]
    with httpx.Client(base_url=lone_admin.api, verify=tls.context(), timeout=30) as http:
        root = bearer(login(lone_admin.api, *ADMIN, verify=tls.context())["access_token"])
        me = http.get("/auth/me", headers=root).json()["id"]
        for change in ({"role": "developer"}, {"disabled": True}, {"role": "guest"}):
            refused = http.patch(f"/admin/users/{me}", json=change, headers=root)
            assert refused.status_code == 409, (change, refused.text)
        assert http.delete(f"/admin/users/{me}", headers=root).status_code == 409
        # A disabled admin is no admin: with the only other admin disabled, root is still last.
        other = make_user(lone_admin.api, tls, root, "admin")
        assert (
            http.patch(
                f"/admin/users/{other.id}", json={"disabled": True}, headers=root
            ).status_code
            == 200
        )
        last = http.patch(f"/admin/users/{me}", json={"role": "user"}, headers=root)
        assert last.status_code == 409
        assert http.get("/auth/me", headers=root).json()["role"] == "admin"


def test_two_admins_demoting_each_other_at_once_leave_one(replicas: list[Server], tls: Tls) -> None:
    lone_admin = replicas[0]
    root = _root(lone_admin, tls)
    pair = [make_user(lone_admin.api, tls, root, "admin") for _ in range(2)]
    clients = [  # each admin on its own replica, when there are two
        httpx.Client(base_url=server.api, verify=tls.context(), timeout=30)
        for server in (replicas[0], replicas[-1])
    ]
    with clients[0] as http, clients[1]:
        me = http.get("/auth/me", headers=root).json()["id"]
        stepped_down = http.patch(f"/admin/users/{me}", json={"role": "user"}, headers=root)
        assert stepped_down.status_code == 200  # the two are now the only admins
        for _ in range(15):
            codes: dict[str, int] = {}
            barrier = threading.Barrier(2)

            def demote(actor_index: int, codes: dict[str, int], barrier: threading.Barrier) -> None:
                actor, target = pair[actor_index], pair[1 - actor_index]
                barrier.wait()
                response = clients[actor_index].patch(
                    f"/admin/users/{target.id}", json={"role": "user"}, headers=actor.headers
                )
                codes[actor.id] = response.status_code

            threads = [threading.Thread(target=demote, args=(i, codes, barrier)) for i in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            winners = [user for user in pair if codes[user.id] == 200]
            assert len(winners) == 1, codes
            assert {codes[user.id] for user in pair if user not in winners} <= {403, 409}, codes
            admins = [
                user
                for user in http.get("/admin/users", headers=winners[0].headers).json()
                if user["role"] == "admin" and not user["disabled"]
            ]
            assert [admin["id"] for admin in admins] == [winners[0].id]
            loser = next(user for user in pair if user not in winners)
            restored = http.patch(
                f"/admin/users/{loser.id}", json={"role": "admin"}, headers=winners[0].headers
            )
            assert restored.status_code == 200


def _root(server: Server, tls: Tls) -> dict[str, str]:
    return bearer(login(server.api, *ADMIN, verify=tls.context())["access_token"])


def test_api_keys_created_at_once_across_replicas_stop_at_the_cap(
    replicas: list[Server], tls: Tls
) -> None:
    """The fixture allows 3 active keys per user."""
    user = make_user(replicas[0].api, tls, _root(replicas[0], tls), "user")
    results: list[int] = []

    def create(server: Server) -> None:
        with httpx.Client(base_url=server.api, verify=tls.context(), timeout=30) as http:
            made = http.post("/auth/api-keys", json={"name": "x"}, headers=user.headers)
            results.append(made.status_code)

    servers = [replicas[i % len(replicas)] for i in range(8)]
    threads = [threading.Thread(target=create, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * 3 + [409] * 5
