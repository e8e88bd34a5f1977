"""What a route declares is what it enforces, in process: a lean route's query constraints (the
ones its OpenAPI entry promises) answer the same 422 problem through either door as any FastAPI
route's, and one bad body gets one answer whichever router reads it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from nanobrain.config import load_settings
from nanobrain.core.registry import discover
from nanobrain.web.app import create_app
from tests.support.server import FLOWS

ORIGIN = {"Origin": "http://localhost:3000"}  # through the middleware stack, not the front door
DOORS = {"front door": {}, "stack": ORIGIN}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("declared")
    settings = load_settings(environ={}, overrides={"data_dir": str(data_dir)})
    app = create_app(settings, discover(["nanobrain.examples", FLOWS]))
    with TestClient(app, base_url="http://testserver/api/v1") as http:
        yield http


@pytest.fixture(scope="module")
def execution_id(client: TestClient) -> str:
    ran = client.post(
        "/workflows/execute", json={"workflow": "echo", "input": {"message": "hi"}, "wait": True}
    )
    assert ran.status_code == 200, ran.text
    return str(ran.json()["execution_id"])


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_the_events_route_documents_the_bounds_it_enforces(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/workflows/{execution_id}/events"]["get"]
    (after,) = [p for p in operation["parameters"] if p["name"] == "after"]
    bounds = after["schema"]["anyOf"][0]
    assert bounds["type"] == "integer" and bounds["minimum"] == 0
    assert bounds["maximum"] == 10**18 - 1


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "1e3", "9" * 19, "9" * 5000, "", "\u00b2"])
def test_a_bad_after_is_a_422_problem_through_either_door(
    client: TestClient, execution_id: str, value: str
) -> None:
    answers = []
    for headers in DOORS.values():
        reply = client.get(
            f"/workflows/{execution_id}/events", params={"after": value}, headers=headers
        )
        body = problem(reply, 422)
        assert [error["loc"] for error in body["errors"]] == [["query", "after"]]
        answers.append(body)
    assert answers[0] == answers[1]
    # The same shape as a FastAPI route's query violation.
    other = problem(client.get("/executions", params={"limit": "0"}), 422)
    assert (other["title"], other["detail"]) == (answers[0]["title"], answers[0]["detail"])


def test_a_good_after_still_replays_through_either_door(
    client: TestClient, execution_id: str
) -> None:
    for headers in DOORS.values():
        everything = client.get(f"/workflows/{execution_id}/events", headers=headers)
        later = client.get(
            f"/workflows/{execution_id}/events", params={"after": "1"}, headers=headers
        )
        assert everything.status_code == later.status_code == 200
        assert everything.text.count("\nid: ") > later.text.count("\nid: ")
        past = client.get(
            f"/workflows/{execution_id}/events", params={"after": str(10**18 - 1)}, headers=headers
        )
        assert past.status_code == 200 and "\nid: " not in past.text


# Every route that reads a JSON body, with a body that is otherwise acceptable to it.
BODY_ROUTES = {
    "/workflows/execute": {"workflow": "echo", "input": {"message": "hi"}},
    "/tools/convert-units/execute": {"arguments": {}},
    "/chat": {"message": "hi"},
    "/agents/lab-assistant/process": {"input": "hi"},
    "/route": {"query": "hi"},
    "/admin/users": {"username": "u", "password": "p", "role": "user"},
    "/auth/api-keys": {"name": "k"},
    "/auth/login": {"username": "u", "password": "p"},
    "/auth/refresh": {"refresh_token": "t"},
}
BAD_BODIES = {
    "malformed": (b'{"message": "hi"', "application/json", 400),
    "empty": (b"", "application/json", 400),
    "too deep": (b"[" * 300 + b"]" * 300, "application/json", 400),
    "not JSON": (b"{}", "text/plain", 415),
    "NaN": (b'{"x": NaN}', "application/json", 400),
}


@pytest.mark.parametrize("kind", BAD_BODIES)
def test_one_bad_body_gets_one_answer_from_every_router(client: TestClient, kind: str) -> None:
    content, media_type, status = BAD_BODIES[kind]
    answers = {
        path: problem(
            client.post(path, content=content, headers={"content-type": media_type}), status
        )
        for path in BODY_ROUTES
    }
    if kind == "not JSON":  # execute also reads multipart forms, and says so
        assert "multipart/form-data" in answers.pop("/workflows/execute")["detail"]
    first = next(iter(answers.values()))
    assert all(answer == first for answer in answers.values()), answers


def test_a_body_of_the_wrong_shape_is_the_same_422_everywhere(client: TestClient) -> None:
    for path in BODY_ROUTES:
        for wrong in ([], "text", 7, {"x": 1}):
            body = problem(client.post(path, json=wrong), 422)
            assert body["title"] == "Invalid input", (path, body)
            assert body["detail"].startswith("the request body does not match "), (path, body)
            assert all(error["loc"][0] == "body" for error in body["errors"]), (path, body)
