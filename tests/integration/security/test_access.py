"""Ownership, user administration and the audit log, over a server with authentication on."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.support.auth import ADMIN, JWT_SECRET, Accounts, bearer, login
from tests.support.server import Server


def test_other_users_resources_are_404_unless_the_viewer_may_see_all(
    secure_server: Server, accounts: Accounts
) -> None:
    api = secure_server.api
    owner = accounts.headers("user")
    run = httpx.post(
        f"{api}/workflows/execute",
        json={"workflow": "echo", "input": {"message": "mine"}, "wait": True},
        headers=owner,
    ).json()
    execution = run["execution_id"]
    upload = httpx.post(
        f"{api}/files", files={"file": ("a.txt", b"private", "text/plain")}, headers=owner
    )
    file_id = upload.json()["file_id"]
    paths = [
        ("GET", f"/workflows/{execution}/status"),
        ("GET", f"/workflows/{execution}/results"),
        ("GET", f"/workflows/{execution}/events"),
        ("DELETE", f"/workflows/{execution}/cancel"),
        ("GET", f"/files/{file_id}"),
    ]
    for method, path in paths:
        stranger = httpx.request(method, api + path, headers=accounts.headers("other-user"))
        assert stranger.status_code == 404, (path, stranger.text)
        assert "mine" not in stranger.text and "private" not in stranger.text
    assert httpx.get(f"{api}/workflows/{execution}/results", headers=owner).json()["output"]
    assert httpx.get(f"{api}/files/{file_id}", headers=owner).content == b"private"
    for viewer in ("developer", "admin"):
        assert (
            httpx.get(
                f"{api}/workflows/{execution}/status", headers=accounts.headers(viewer)
            ).status_code
            == 200
        )
        assert (
            httpx.get(f"{api}/files/{file_id}", headers=accounts.headers(viewer)).status_code == 200
        )
    history = httpx.get(
        f"{api}/executions", params={"everyone": True}, headers=accounts.headers("other-user")
    )
    assert execution not in history.text
    everyone = httpx.get(
        f"{api}/executions", params={"everyone": True}, headers=accounts.headers("developer")
    )
    assert execution in everyone.text


def test_a_narrowed_workflow_is_invisible_to_roles_outside_it(
    secure_server: Server, accounts: Accounts
) -> None:
    api = secure_server.api
    for role, visible in (("user", False), ("guest", False), ("developer", True), ("admin", True)):
        names = [
            w["name"] for w in httpx.get(f"{api}/workflows", headers=accounts.headers(role)).json()
        ]
        assert ("developers-only" in names) is visible, role
    hidden = httpx.post(
        f"{api}/workflows/execute",
        json={"workflow": "developers-only"},
        headers=accounts.headers("user"),
    )
    assert hidden.status_code == 404


def test_admins_manage_users_and_role_changes_apply_at_once(secure_server: Server) -> None:
    api = secure_server.api
    root = bearer(login(api, *ADMIN)["access_token"])
    created = httpx.post(
        f"{api}/admin/users",
        json={"username": "carol", "password": "carol-password", "role": "guest"},
        headers=root,
    )
    assert created.status_code == 201, created.text
    carol = created.json()
    assert "password" not in created.text and "hash" not in created.text
    duplicate = httpx.post(
        f"{api}/admin/users",
        json={"username": "carol", "password": "carol-password", "role": "user"},
        headers=root,
    )
    assert duplicate.status_code == 409
    weak = httpx.post(
        f"{api}/admin/users",
        json={"username": "dave", "password": "short", "role": "user"},
        headers=root,
    )
    assert weak.status_code == 422
    bad_role = httpx.post(
        f"{api}/admin/users",
        json={"username": "erin", "password": "erin-password", "role": "root"},
        headers=root,
    )
    assert bad_role.status_code == 422
    token = bearer(login(api, "carol", "carol-password")["access_token"])
    run = {"workflow": "echo", "input": {}, "wait": True}
    assert httpx.post(f"{api}/workflows/execute", json=run, headers=token).status_code == 403
    promoted = httpx.patch(f"{api}/admin/users/{carol['id']}", json={"role": "user"}, headers=root)
    assert promoted.status_code == 200 and promoted.json()["role"] == "user"
    assert httpx.post(f"{api}/workflows/execute", json=run, headers=token).status_code == 200
    disabled = httpx.patch(
        f"{api}/admin/users/{carol['id']}", json={"disabled": True}, headers=root
    )
    assert disabled.json()["disabled"] is True
    assert httpx.get(f"{api}/auth/me", headers=token).status_code == 401
    login_again = httpx.post(
        f"{api}/auth/login", json={"username": "carol", "password": "carol-password"}
    )
    assert login_again.status_code == 401
    assert httpx.delete(f"{api}/admin/users/{carol['id']}", headers=root).status_code == 204
    assert httpx.delete(f"{api}/admin/users/{carol['id']}", headers=root).status_code == 404
    users = httpx.get(f"{api}/admin/users", headers=root).json()
    assert "carol" not in [user["username"] for user in users]


def test_the_last_admin_cannot_be_removed_or_demoted(
    secure_server: Server, accounts: Accounts
) -> None:
    api = secure_server.api
    root = accounts.headers("admin")
    root_id = accounts.ids["admin"]
    assert (
        httpx.patch(f"{api}/admin/users/{root_id}", json={"role": "user"}, headers=root).status_code
        == 409
    )
    assert httpx.delete(f"{api}/admin/users/{root_id}", headers=root).status_code == 409
    assert httpx.get(f"{api}/auth/me", headers=root).json()["role"] == "admin"


def test_the_audit_log_records_security_events_without_secrets(
    secure_server: Server, accounts: Accounts
) -> None:
    api = secure_server.api
    root = accounts.headers("admin")
    httpx.post(f"{api}/auth/login", json={"username": "user", "password": "a-wrong-guess"})
    key = httpx.post(f"{api}/auth/api-keys", json={"name": "audited"}, headers=root).json()
    httpx.delete(f"{api}/auth/api-keys/{key['id']}", headers=root)
    run = httpx.post(
        f"{api}/workflows/execute",
        json={"workflow": "echo", "input": {}},
        headers=accounts.headers("user"),
    ).json()
    config = httpx.get(f"{api}/config", headers=root)
    assert (
        JWT_SECRET not in config.text
        and config.json()["web_interface"]["auth_config"]["jwt_secret"] == "**********"
    )

    def entries(**filters: str) -> list[dict[str, object]]:
        page = httpx.get(f"{api}/admin/audit", params=filters, headers=root)
        assert page.status_code == 200, page.text
        items: list[dict[str, object]] = page.json()["items"]
        return items

    failures = entries(action="login", outcome="failure")
    assert any(entry["actor"] == "user" for entry in failures)
    assert {"api_key.create", "api_key.revoke"} <= {
        str(e["action"]) for e in entries(action="api_key.")
    }
    started = entries(action="execution.start", target=run["execution_id"])
    assert len(started) == 1 and started[0]["actor_id"] == accounts.ids["user"]
    assert started[0]["client"] == "127.0.0.1" and started[0]["request_id"]
    status = httpx.get(
        f"{api}/workflows/{run['execution_id']}/status", headers=accounts.headers("user")
    ).json()
    # The entry is dated when the execution was created, to the microsecond.
    assert datetime.fromisoformat(str(started[0]["at"])) == datetime.fromisoformat(
        status["created_at"]
    )
    assert entries(action="config.read", actor=ADMIN[0])
    everything = httpx.get(f"{api}/admin/audit", params={"limit": 1000}, headers=root).text
    for secret in (JWT_SECRET, key["key"], "a-wrong-guess", ADMIN[1]):
        assert secret not in everything
    first = entries(limit="2")
    page = httpx.get(f"{api}/admin/audit", params={"limit": 2}, headers=root).json()
    older = entries(limit="2", cursor=page["next_cursor"])
    assert first and older and int(str(older[0]["id"])) < int(str(first[-1]["id"]))
    for secret in (JWT_SECRET, key["key"], "a-wrong-guess", ADMIN[1]):
        assert secret not in secure_server.log()
