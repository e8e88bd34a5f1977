"""What the fairness attacks share: one account flooding the executor, others timing their work,
and the start order read back from the execution history."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from tests.support.auth import Accounts, bearer
from tests.support.waiting import wait_until


def start(client: httpx.Client, token: str, workflow: str, payload: dict[str, Any]) -> str:
    response = client.post(
        "/workflows/execute",
        json={"workflow": workflow, "input": payload},
        headers=bearer(token),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


def history(client: httpx.Client, token: str, workflow: str = "simulation") -> list[dict[str, Any]]:
    """The caller's executions of `workflow` (one request: the read limit stays far away)."""
    response = client.get(
        "/executions", params={"workflow": workflow, "limit": 200}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def poll(
    check: Callable[[], bool], timeout: float, interval: float = 0.5, what: str = "condition"
) -> None:
    wait_until(check, timeout, interval, what)


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def someone_elses_work_is_prompt(
    client: httpx.Client, accounts: Accounts, name: str, bound: float
) -> None:
    """An execution, a tool call and a chat turn of `name`, each answered within `bound` s."""
    headers = accounts.headers(name)
    calls = {
        "execution": lambda: client.post(
            "/workflows/execute",
            json={"workflow": "text-stats", "input": {"text": "One fish."}, "wait": True},
            headers=headers,
        ),
        "tool call": lambda: client.post(
            "/tools/gc-content/execute", json={"arguments": {"sequence": "ATGC"}}, headers=headers
        ),
        "chat": lambda: client.post(
            "/chat", json={"message": "count the words in: one two three"}, headers=headers
        ),
    }
    for what, call in calls.items():
        response, seconds = timed(call)
        assert response.status_code == 200, f"{what}: {response.text}"
        assert seconds < bound, f"{what} took {seconds:.1f} s while another user flooded"


def at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def most_at_once(executions: list[dict[str, Any]]) -> int:
    """The most of `executions` that ran at the same moment (from their start and end times)."""
    edges: list[tuple[float, int]] = []
    for execution in executions:
        if execution["started_at"] and execution["finished_at"]:
            edges += [(at(execution["started_at"]), 1), (at(execution["finished_at"]), -1)]
    running = peak = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # ends before starts
        running += step
        peak = max(peak, running)
    return peak
