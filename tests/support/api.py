"""Small clients of the HTTP API that many integration tests share."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.waiting import wait_until


def execute(
    client: httpx.Client, workflow: str, payload: dict[str, Any] | None = None, **extra: Any
) -> httpx.Response:
    return client.post(
        "/workflows/execute", json={"workflow": workflow, "input": payload or {}, **extra}
    )


def wait_for(
    client: httpx.Client, execution_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    """Poll an execution's status until it is one of `statuses`; return that status body."""
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        last.update(client.get(f"/workflows/{execution_id}/status").json())
        return dict(last) if last["status"] in statuses else None

    try:
        return wait_until(reached, timeout, interval=0.05)
    except AssertionError:
        raise AssertionError(f"{execution_id} never reached {statuses}; last: {last}") from None


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem of `status`, with no traceback in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


def upload(
    client: httpx.Client, name: str, content: bytes, content_type: str = "text/plain"
) -> httpx.Response:
    return client.post("/files", files={"file": (name, content, content_type)})
