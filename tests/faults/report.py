"""What each fault test saw, printed for `pytest -s` (and copied into tests/faults/README.md)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.faults.traffic import CLIENT_TIMEOUT, FINAL, Answer, summarize


def settle(
    api: str, execution_ids: list[str], timeout: float = 60, token: str | None = None
) -> dict[str, dict[str, Any]]:
    """The final status body of every execution, once all are final (or the deadline passed:
    the ones still unfinished are returned as they are)."""
    outcome: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"} if token else None
    with httpx.Client(verify=False, timeout=CLIENT_TIMEOUT, headers=headers) as client:
        for execution_id in execution_ids:
            while True:
                response = client.get(f"{api}/workflows/{execution_id}/status")
                if response.status_code == 200:
                    body = response.json()
                    outcome[execution_id] = body
                    if body["status"] in FINAL:
                        break
                if time.monotonic() > deadline:
                    outcome.setdefault(execution_id, {"status": f"HTTP {response.status_code}"})
                    break
                time.sleep(0.2)
    return outcome


def report(
    name: str,
    *,
    window: tuple[float, float],
    recovered_at: float,
    during: list[Answer],
    answers: list[Answer],
    outcomes: dict[str, dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    unfinished = [i for i, body in outcomes.items() if body["status"] not in FINAL]
    failed = {i: body.get("error") for i, body in outcomes.items() if body["status"] == "failed"}
    refused = [answer for answer in during if answer.refused]
    summary = {
        "test": name,
        "outage_s": round(window[1] - window[0], 1),
        "recovered_after_s": round(recovered_at - window[1], 1),
        "requests_during_outage": len(during),
        "answered_503_during_outage": len(refused),
        "requests_in_all": summarize(answers),
        "acknowledged": len(outcomes),
        "lost": len(unfinished),
        "acknowledged_but_failed": failed,
        **extra,
    }
    print(f"\nFAULT REPORT {json.dumps(summary, indent=1)}")
    return summary
