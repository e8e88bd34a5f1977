"""Routing, tools, agents, admin endpoints and the OpenAPI document, over a real server."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import assert_problem, execute
from tests.support.deployment import Deployment


# -- routing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected", "domain"),
    [
        ("analyse the DNA sequences in my FASTA file", "sequence-analysis", "bioinformatics"),
        ("summary statistics of the columns in a CSV table", "data-summary", "data"),
        ("run a long Monte Carlo simulation", "simulation", "simulation"),
        ("count the words in this text", "text-stats", "text"),
    ],
)
def test_route_picks_the_right_workflow(
    client: httpx.Client, query: str, expected: str, domain: str
) -> None:
    reply = client.post("/route", json={"query": query}).json()
    assert reply["workflow"] == expected, reply
    assert reply["domain"] == domain
    assert 0 < reply["confidence"] <= 1
    assert all(
        alt["workflow"] != expected and alt["confidence"] <= reply["confidence"]
        for alt in reply["alternatives"]
    )


def test_route_without_a_match_runs_nothing(client: httpx.Client) -> None:
    before = client.get("/executions", params={"limit": 1}).json()["items"]
    reply = client.post("/route", json={"query": "xylophone quux"}).json()
    assert reply["workflow"] is None and reply["confidence"] == 0
    assert client.get("/executions", params={"limit": 1}).json()["items"] == before


def test_route_rejects_bad_bodies(client: httpx.Client) -> None:
    assert_problem(client.post("/route", json={}), 422)
    assert_problem(client.post("/route", json={"query": ""}), 422)
    assert_problem(
        client.post("/route", content=b"{", headers={"content-type": "application/json"}), 400
    )


# -- tools ---------------------------------------------------------------------------------------
def test_tools_are_listed_with_schemas(client: httpx.Client) -> None:
    tools = {tool["name"]: tool for tool in client.get("/tools").json()}
    assert {"reverse-complement", "gc-content", "convert-units"} <= set(tools)
    info = client.get("/tools/convert-units/info").json()
    assert info == tools["convert-units"]
    assert set(info["input_schema"]["required"]) == {"value", "from_unit", "to_unit"}
    assert_problem(client.get("/tools/nope/info"), 404)


def test_tool_execution(client: httpx.Client) -> None:
    reply = client.post(
        "/tools/reverse-complement/execute", json={"arguments": {"sequence": "ATGC"}}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"] == "GCAT"
    converted = client.post(
        "/tools/convert-units/execute",
        json={"arguments": {"value": 1, "from_unit": "km", "to_unit": "m"}},
    )
    assert converted.json()["result"] == pytest.approx(1000)
    history = client.get("/executions", params={"workflow": "convert-units", "limit": 1}).json()[
        "items"
    ]
    assert history[0]["kind"] == "tool"


def test_tool_errors_are_4xx(client: httpx.Client) -> None:
    unsupported = client.post(
        "/tools/convert-units/execute",
        json={"arguments": {"value": 1, "from_unit": "km", "to_unit": "kg"}},
    )
    assert "supported" in assert_problem(unsupported, 422)["detail"]
    assert_problem(
        client.post("/tools/gc-content/execute", json={"arguments": {"sequence": 5}}), 422
    )
    assert_problem(client.post("/tools/gc-content/execute", json={"arguments": {}}), 422)
    assert_problem(client.post("/tools/gc-content/execute", json={"args": {}}), 422)
    assert_problem(
        client.post(
            "/tools/gc-content/execute", content=b"[", headers={"content-type": "application/json"}
        ),
        400,
    )
    assert_problem(client.post("/tools/nope/execute", json={"arguments": {}}), 404)


# -- agents --------------------------------------------------------------------------------------
def test_agents_and_capabilities(client: httpx.Client) -> None:
    agents = client.get("/agents").json()
    assert [agent["name"] for agent in agents] == ["lab-assistant"]
    capabilities = client.get("/agents/lab-assistant/capabilities").json()
    assert capabilities["description"] == agents[0]["description"]
    assert [tool["name"] for tool in capabilities["tools"]] == agents[0]["tools"]
    assert all("input_schema" in tool for tool in capabilities["tools"])
    assert capabilities["streaming"] is True and capabilities["input_schema"]["type"] == "object"
    assert_problem(client.get("/agents/nobody/capabilities"), 404)


# -- admin ---------------------------------------------------------------------------------------
def test_health_endpoints(client: httpx.Client, deployment: Deployment) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["checks"]["database"]["status"] == "ok"
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").json()["status"] == "ready"
    executor = health["checks"]["executor"]
    assert executor["status"] == "ok" and executor["capacity"] == 32  # one worker's, or ours
    assert {"running", "saturation", "queued", "oldest_queued_seconds"} <= set(executor)
    if deployment.mode == "distributed":
        assert health["checks"]["redis"]["status"] == "ok"
        assert executor["workers"] == 1


def test_metrics_count_executions_and_requests(
    client: httpx.Client, deployment: Deployment
) -> None:
    execute(client, "echo", wait=True)
    text = client.get("/metrics").text
    assert 'route="/api/v1/workflows/execute"' in text
    executed = "".join(httpx.get(url).text for url in deployment.metrics_urls)
    assert 'nanobrain_executions_total{status="succeeded",workflow="echo"}' in executed
    assert "nanobrain_http_request_duration_seconds_bucket" in text


def test_config_is_effective_and_redacted(client: httpx.Client) -> None:
    config = client.get("/config").json()
    assert config["profile"] == "development"
    assert config["web_interface"]["limits"]["max_upload_bytes"] == 256 * 1024
    assert config["web_interface"]["server_config"]["host"] == "127.0.0.1"


# -- OpenAPI -------------------------------------------------------------------------------------
def test_openapi_names_every_workflow_schema(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    components = document["components"]["schemas"]
    for workflow in client.get("/workflows").json():
        camel = "".join(part.capitalize() for part in workflow["name"].split("-"))
        assert f"{camel}Input" in components and f"{camel}Output" in components
    assert "ExecuteRequest" in components
    for path in (
        "/api/v1/workflows/execute",
        "/api/v1/workflows/{execution_id}/status",
        "/api/v1/route",
        "/api/v1/files",
    ):
        assert path in document["paths"]
    text = str(document)
    for reference in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert reference in components, reference


def test_interactive_docs_are_served(server_url: str) -> None:
    response = httpx.get(f"{server_url}/api/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()


@pytest.fixture
def server_url(server: object) -> str:
    return server.url  # type: ignore[attr-defined, no-any-return]
