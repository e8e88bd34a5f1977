"""The workflow API over a real server: catalog, execute, status, results, cancel, events,
history."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.api import assert_problem, execute, wait_for
from tests.support.sse import collect
from tests.support.waiting import wait_until

EXAMPLES = {"sequence-analysis", "data-summary", "simulation", "text-stats", "echo"}


# -- catalog ---------------------------------------------------------------------------------
def test_catalog_lists_every_example_with_its_contract(client: httpx.Client) -> None:
    catalog = {entry["name"]: entry for entry in client.get("/workflows").json()}
    assert set(catalog) >= EXAMPLES
    for entry in catalog.values():
        assert set(entry) >= {
            "name",
            "title",
            "description",
            "tags",
            "version",
            "mode",
            "input_schema",
            "output_schema",
            "examples",
        }
        assert entry["input_schema"]["type"] == "object"
    assert catalog["simulation"]["mode"] == "job"
    assert catalog["text-stats"]["mode"] == "sync"
    assert catalog["countdown"]["mode"] == "stream"
    assert catalog["sequence-analysis"]["input_schema"]["properties"]["fasta"]["$ref"].endswith(
        "/File"
    )


def test_one_definition_and_unknown_name(client: httpx.Client) -> None:
    assert client.get("/workflows/text-stats").json()["name"] == "text-stats"
    assert_problem(client.get("/workflows/no-such-thing"), 404)


# -- execute ---------------------------------------------------------------------------------
def test_execute_with_wait_returns_the_output(client: httpx.Client) -> None:
    response = execute(client, "text-stats", {"text": "One fish. Two fish. Red fish!"}, wait=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["output"]["words"] == 6 and body["output"]["sentences"] == 3
    assert body["finished_at"] >= body["started_at"] >= body["created_at"]
    assert body["created_at"].endswith("Z")


def test_execute_without_wait_is_accepted_with_links(client: httpx.Client) -> None:
    response = execute(client, "echo", {"message": "hello"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] in {"queued", "running", "succeeded"}
    assert set(body["links"]) == {"status", "results", "events", "cancel"}
    assert response.headers["location"] == body["links"]["status"]
    status = wait_for(client, body["execution_id"], {"succeeded"})
    assert status["progress"]["fraction"] == 1.0
    results = client.get(f"/workflows/{body['execution_id']}/results").json()
    assert results == {
        "execution_id": body["execution_id"],
        "status": "succeeded",
        "output": {"message": "hello"},
        "artifacts": [],
    }


def test_wait_reports_a_run_that_hits_its_timeout(client: httpx.Client) -> None:
    response = execute(client, "sleepy", {"seconds": 0.2}, wait=True)
    assert response.status_code == 200  # timeout 0.5 s > 0.2 s run
    response = execute(client, "sleepy", {"seconds": 3}, wait=True)
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["type"] == "timeout"


def test_free_form_query_is_routed(client: httpx.Client) -> None:
    response = client.post(
        "/workflows/execute",
        json={
            "query": "count the words and sentences in this text",
            "input": {"text": "a b c."},
            "wait": True,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["routed_to"] == "text-stats"
    assert response.json()["workflow"] == "text-stats"


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({"workflow": "text-stats", "input": {"text": 5}}, 422, ["input", "text"]),
        ({"workflow": "text-stats", "input": {}}, 422, ["input", "text"]),
        (
            {"workflow": "text-stats", "input": {"text": "x", "unknown": 1}},
            422,
            ["input", "unknown"],
        ),
        ({"workflow": "text-stats", "input": [1, 2]}, 422, ["body", "input"]),
        ({"workflow": "simulation", "input": {"steps": 0}}, 422, ["input", "steps"]),
        ({"workflow": 7}, 422, ["body", "workflow"]),
        ({"input": {}}, 422, ["body", "workflow"]),
        ({"workflow": "echo", "surprise": True}, 422, ["body", "surprise"]),
        ({"query": "zzzz qqqq"}, 422, ["body", "query"]),
        ({"workflow": "sequence-analysis", "input": {"fasta": "0" * 32}}, 422, ["input", "fasta"]),
    ],
)
def test_invalid_requests_get_422_with_locations(
    client: httpx.Client, body: dict[str, Any], status: int, loc: list[str]
) -> None:
    problem = assert_problem(client.post("/workflows/execute", json=body), status)
    assert any(error["loc"][: len(loc)] == loc for error in problem["errors"]), problem


def test_unknown_workflow_is_404(client: httpx.Client) -> None:
    assert_problem(execute(client, "no-such-workflow"), 404)


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"workflow": "echo",', "application/json", 400),
        (b"", "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"workflow=echo", "application/x-www-form-urlencoded", 415),
        (b"[" * 100 + b"]" * 100, "application/json", 400),
    ],
)
def test_malformed_bodies_are_4xx(
    client: httpx.Client, content: bytes, content_type: str, status: int
) -> None:
    assert_problem(
        client.post("/workflows/execute", content=content, headers={"content-type": content_type}),
        status,
    )


def test_oversized_json_body_is_413(client: httpx.Client) -> None:
    huge = b'{"workflow": "echo", "input": {"message": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    assert_problem(
        client.post(
            "/workflows/execute", content=huge, headers={"content-type": "application/json"}
        ),
        413,
    )


# -- outcomes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("workflow", "error_type", "message"),
    [
        ("boom", "exception", "ValueError: kaboom"),
        ("refuse", "workflow_error", "refused: no"),
        ("wrong-output", "validation_error", "broke its declared types"),
    ],
)
def test_failures_are_recorded_with_a_reason(
    client: httpx.Client, workflow: str, error_type: str, message: str
) -> None:
    body = execute(client, workflow, wait=True).json()
    assert body["status"] == "failed"
    assert body["error"]["type"] == error_type
    assert message in body["error"]["message"]
    results = assert_problem(client.get(f"/workflows/{body['execution_id']}/results"), 409)
    assert results["execution_status"] == "failed"


def test_results_are_409_while_running(client: httpx.Client) -> None:
    execution_id = execute(client, "simulation", {"steps": 50, "step_seconds": 0.1}).json()[
        "execution_id"
    ]
    wait_for(client, execution_id, {"running"})
    problem = assert_problem(client.get(f"/workflows/{execution_id}/results"), 409)
    assert problem["execution_status"] == "running"
    client.delete(f"/workflows/{execution_id}/cancel")


def test_artifacts_are_listed_and_downloadable(client: httpx.Client) -> None:
    body = execute(client, "make-file", {"text": "artifact!"}, wait=True).json()
    assert body["status"] == "succeeded"
    file_id = body["output"]["file_id"]
    results = client.get(f"/workflows/{body['execution_id']}/results").json()
    assert [artifact["file_id"] for artifact in results["artifacts"]] == [file_id]
    download = client.get(f"/files/{file_id}")
    assert download.content == b"artifact!"
    assert "greeting.txt" in download.headers["content-disposition"]


# -- cancel ------------------------------------------------------------------------------------
def test_cancel_interrupts_a_running_simulation(client: httpx.Client) -> None:
    execution_id = execute(client, "simulation", {"steps": 100, "step_seconds": 0.2}).json()[
        "execution_id"
    ]
    running = wait_for(client, execution_id, {"running"})
    wait_until(
        lambda: client.get(f"/workflows/{execution_id}/status").json()["progress"]["fraction"]
    )
    started = time.monotonic()
    response = client.delete(f"/workflows/{execution_id}/cancel")
    assert response.status_code == 202
    final = wait_for(client, execution_id, {"cancelled", "succeeded", "failed"}, timeout=5)
    assert final["status"] == "cancelled"
    assert time.monotonic() - started < 1.0, "cancel must interrupt, not wait for the run to end"
    assert running["status"] == "running"
    fraction = final["progress"]["fraction"]
    assert fraction is not None and 0 < fraction < 0.2
    time.sleep(0.5)  # the behaviour: nothing moves after a cancel
    assert (
        client.get(f"/workflows/{execution_id}/status").json()["progress"]["fraction"] == fraction
    )
    events = collect(client, f"/workflows/{execution_id}/events")
    assert [event.data["data"]["status"] for event in events if event.event == "status"] == [
        "queued",
        "running",
        "cancelled",
    ]
    assert_problem(client.get(f"/workflows/{execution_id}/results"), 409)


def test_cancel_of_a_finished_execution_is_409(client: httpx.Client) -> None:
    execution_id = execute(client, "echo", wait=True).json()["execution_id"]
    problem = assert_problem(client.delete(f"/workflows/{execution_id}/cancel"), 409)
    assert problem["execution_status"] == "succeeded"


def test_unknown_execution_ids_are_404(client: httpx.Client) -> None:
    for path in ("status", "results", "events"):
        assert_problem(client.get(f"/workflows/{'f' * 32}/{path}"), 404)
        assert_problem(client.get(f"/workflows/../../etc/{path}"), 404)
    assert_problem(client.delete(f"/workflows/{'0' * 32}/cancel"), 404)


# -- events ------------------------------------------------------------------------------------
def test_event_stream_of_a_running_execution_ends_after_the_final_event(
    client: httpx.Client,
) -> None:
    execution_id = execute(client, "simulation", {"steps": 5, "step_seconds": 0.05}).json()[
        "execution_id"
    ]
    events = collect(client, f"/workflows/{execution_id}/events")
    seqs = [event.data["seq"] for event in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [event.id for event in events] == [str(seq) for seq in seqs]
    assert all(event.event == event.data["type"] for event in events)
    assert all(event.data["execution_id"] == execution_id for event in events)
    assert events[-1].event == "status" and events[-1].data["data"]["status"] == "succeeded"
    assert events[-2].event == "result"
    progress = [event.data["data"]["fraction"] for event in events if event.event == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 5


def test_stream_workflow_emits_chunks(client: httpx.Client) -> None:
    body = execute(client, "countdown", {"n": 3}, wait=True).json()
    assert body["output"] == "3 2 1 "
    events = collect(client, f"/workflows/{body['execution_id']}/events")
    assert [event.data["data"]["delta"] for event in events if event.event == "chunk"] == [
        "3 ",
        "2 ",
        "1 ",
    ]


def test_replay_from_last_event_id_has_no_gap_and_no_duplicate(client: httpx.Client) -> None:
    execution_id = execute(client, "countdown", {"n": 20, "delay": 0.02}).json()["execution_id"]
    seen: list[int] = []
    with client.stream("GET", f"/workflows/{execution_id}/events") as response:
        from tests.support.sse import read_events

        for event in read_events(response):
            seen.append(int(event.id or 0))
            if len(seen) == 6:
                break  # the client vanishes mid-stream
    rest = collect(
        client, f"/workflows/{execution_id}/events", headers={"Last-Event-ID": str(seen[-1])}
    )
    combined = seen + [int(event.id or 0) for event in rest]
    assert combined == list(range(1, combined[-1] + 1))
    assert rest[-1].data["data"]["status"] == "succeeded"
    after = collect(client, f"/workflows/{execution_id}/events?after=10")
    assert [int(event.id or 0) for event in after] == list(range(11, combined[-1] + 1))


def test_bad_resume_points_are_4xx(client: httpx.Client) -> None:
    execution_id = execute(client, "echo", wait=True).json()["execution_id"]
    assert_problem(
        client.get(f"/workflows/{execution_id}/events", headers={"Last-Event-ID": "abc"}), 400
    )
    assert_problem(client.get(f"/workflows/{execution_id}/events?after=-1"), 422)
    assert collect(client, f"/workflows/{execution_id}/events?after=99") == []


# -- history -----------------------------------------------------------------------------------
def test_history_pages_newest_first_with_filters(client: httpx.Client) -> None:
    ids = [
        execute(client, "echo", {"message": str(i)}, wait=True).json()["execution_id"]
        for i in range(5)
    ]
    page = client.get("/executions", params={"workflow": "echo", "limit": 2}).json()
    collected = [item["execution_id"] for item in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            "/executions", params={"workflow": "echo", "limit": 2, "cursor": page["next_cursor"]}
        ).json()
        collected += [item["execution_id"] for item in page["items"]]
    assert collected[:5] == list(reversed(ids))
    assert len(collected) == len(set(collected))
    first = client.get("/executions", params={"workflow": "echo", "limit": 1}).json()["items"][0]
    assert first["input"] == {"message": "4"} and first["kind"] == "workflow"
    failed = client.get("/executions", params={"status": "failed"}).json()["items"]
    assert all(item["status"] == "failed" for item in failed)


def test_history_rejects_bad_parameters(client: httpx.Client) -> None:
    assert_problem(client.get("/executions", params={"status": "exploded"}), 422)
    assert_problem(client.get("/executions", params={"limit": 0}), 422)
    assert_problem(client.get("/executions", params={"limit": 10_000}), 422)
    assert_problem(client.get("/executions", params={"cursor": "not-a-cursor"}), 422)


# -- conventions -------------------------------------------------------------------------------
def test_request_id_is_echoed_or_generated(client: httpx.Client) -> None:
    assert (
        client.get("/workflows", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/workflows").headers["x-request-id"]
    assert len(generated) == 32
    hostile = client.get("/workflows", headers={"X-Request-ID": "x" * 500}).headers["x-request-id"]
    assert hostile != "x" * 500
    assert client.get("/nope").headers["x-request-id"]


def test_unknown_routes_and_methods_are_problems(client: httpx.Client) -> None:
    assert_problem(client.get("/no/such/route"), 404)
    assert_problem(client.put("/workflows/execute", json={}), 405)
