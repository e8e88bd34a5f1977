"""What the fault tests share: the settings that make an outage show within seconds, and one
outage of a dependency under traffic, checked and reported (`through_outage`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.faults.report import report, settle
from tests.faults.traffic import CLIENT_TIMEOUT, Follower, Traffic, check_answers, check_stream
from tests.support.cluster import Cluster
from tests.support.waiting import wait_until

# Short bounds, so that an outage shows within seconds: a request waits at most 2 s on a
# dependency, a never-queued execution is failed after 5 s, a worker is presumed dead after 3 s.
FAULT_ENV = {
    "NANOBRAIN_RUNTIME__DEPENDENCY_TIMEOUT_SECONDS": "2",
    "NANOBRAIN_RUNTIME__FLUSH_TIMEOUT_SECONDS": "2",
    "NANOBRAIN_RUNTIME__STRANDED_AFTER_SECONDS": "5",
    "NANOBRAIN_RUNTIME__HEARTBEAT_SECONDS": "0.5",
    "NANOBRAIN_RUNTIME__WORKER_TIMEOUT_SECONDS": "3",
    "NANOBRAIN_RUNTIME__WRITE_BEHIND_SECONDS": "0.05",
    "NANOBRAIN_REALTIME__SSE_PING_SECONDS": "1",
}
OUTAGE_SECONDS = 6.0  # longer than a subscriber waits for Redis (5 s): streams break and resume
LONG_RUN = {"steps": 30, "step_seconds": 0.2}  # six seconds: straddles the outage


def base_of(cluster: Cluster) -> str:
    return f"https://127.0.0.1:{cluster.nginx.port}"


def submit(client: httpx.Client, api: str, workflow: str, payload: dict[str, Any]) -> str:
    body = {"workflow": workflow, "input": payload}
    response = client.post(f"{api}/workflows/execute", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


def serves(api: str, token: str | None = None) -> Callable[[], bool]:
    """True once a whole execution goes through: the deployment has recovered."""
    headers = {"Authorization": f"Bearer {token}"} if token else None

    def probe() -> bool:
        try:
            response = httpx.post(
                f"{api}/workflows/execute",
                json={"workflow": "echo", "input": {"message": "back?"}, "wait": True},
                headers=headers,
                verify=False,
                timeout=CLIENT_TIMEOUT,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json()["status"] == "succeeded"

    return probe


def health_during(api: str, seconds: float) -> list[dict[str, Any]]:
    """`/health` (and `/health/live`) asked every 0.3 s for `seconds`: the bodies of its 503s."""
    down = []
    end = time.monotonic() + seconds
    with httpx.Client(verify=False, timeout=CLIENT_TIMEOUT) as client:
        while time.monotonic() < end:
            assert client.get(f"{api}/health/live").status_code == 200
            response = client.get(f"{api}/health")
            if response.status_code == 503:
                assert response.headers["retry-after"]
                down.append(response.json())
            time.sleep(0.3)
    return down


def through_outage(
    base: str,
    dependency: str,
    stop: Callable[[], None],
    start: Callable[[], None],
    *,
    token: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Executions running and streaming, traffic on every transport (as the owner of `token`,
    if given), then `stop` the `dependency` for OUTAGE_SECONDS and `start` it again; check
    everything, and report."""
    api = f"{base}/api/v1"
    headers = {"Authorization": f"Bearer {token}"} if token else None
    with httpx.Client(verify=False, timeout=CLIENT_TIMEOUT, headers=headers) as client:
        in_flight = [submit(client, api, "simulation", LONG_RUN) for _ in range(4)]
    followers = [Follower(api, execution_id, token).start() for execution_id in in_flight]
    wait_until(
        lambda: all(f.events for f in followers), 15, interval=0.1, what="the streams to start"
    )
    with Traffic(base, token=token) as traffic:
        time.sleep(1.0)
        down = time.monotonic()
        stop()
        health = health_during(api, OUTAGE_SECONDS)
        start()
        up = time.monotonic()
        wait_until(serves(api, token), 30, interval=0.1, what="the deployment to serve again")
        recovered = time.monotonic()
        time.sleep(1.0)
    during = traffic.between(down, up)
    check_answers(traffic.answers)
    refused = [answer for answer in during if answer.refused]
    assert refused, "the outage was never felt: nothing answered 503"
    assert health and all(body["checks"][dependency]["status"] == "down" for body in health)

    for follower in followers:
        follower.join(60)
        check_stream(follower)
    acknowledged = [*in_flight, *traffic.acknowledged]
    outcomes = settle(api, acknowledged, token=token)
    summary = report(
        name or f"{dependency} restart",
        window=(down, up),
        recovered_at=recovered,
        during=during,
        answers=traffic.answers,
        outcomes=outcomes,
        stream_reconnects=sum(sum(f.reconnects.values()) for f in followers),
    )
    assert summary["lost"] == 0, [i for i, b in outcomes.items() if b["status"] != "succeeded"]
    for execution_id in in_flight:  # they ran through the outage, each once
        assert outcomes[execution_id]["status"] == "succeeded", outcomes[execution_id]
    statuses = [event.data["data"]["status"] for f in followers for event in f.events
                if event.event == "status"]  # fmt: skip
    assert statuses.count("running") == len(followers), "an execution started twice"
    return summary
