"""schemathesis against the app's own OpenAPI document, as an admin: whatever it sends, the server
answers without a 5xx and with responses that match the document; and with integers past 64 bits
and nesting past the limit put into what it sends, still without a 5xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.auth import ADMIN, auth_env, bearer, login
from tests.support.server import Server

EXAMPLES = 20
# The schema cannot say which workflows exist or that `workflow` or `query` is needed, so a
# schema-valid request may rightly be refused (404, 422): that is not a fault.
NOT_CHECKED = [positive_data_acceptance]


def fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, timeout=30, excluded_checks=NOT_CHECKED)

    run()


def test_no_server_errors_and_responses_match_the_schema(tmp_path: Path) -> None:
    server = Server(tmp_path, env=auth_env()).start()
    try:
        headers = bearer(login(server.api, *ADMIN)["access_token"])
        schema = schemathesis.openapi.from_url(f"{server.api}/openapi.json")
        failures = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 30
        for operation in operations:
            try:
                fuzz(operation, headers)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label}: {exc}")
        assert not failures, "\n\n".join(failures)
    finally:
        server.kill()


# -- values JSON allows that encoders balk at ---------------------------------------------------
HUGE = st.sampled_from([2**64, 2**64 + 1, -(2**63) - 1, -(2**70), 2**200])
DEPTH = st.integers(min_value=65, max_value=300)  # past `limits.max_json_depth` (64)
# Workflows that take an integer seed, with the rest of their input.
WITH_SEED = st.sampled_from([("lucky", {}), ("simulation", {"steps": 1, "step_seconds": 0})])


def with_huge_integers(value: Any, huge: int) -> Any:
    """Every integer in `value` (not booleans) replaced by `huge`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return huge
    if isinstance(value, dict):
        return {key: with_huge_integers(item, huge) for key, item in value.items()}
    if isinstance(value, list):
        return [with_huge_integers(item, huge) for item in value]
    return value


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"v": [value]} if depth % 2 else [{"v": value}]
    return value


def deepened(body: Any, depth: int) -> Any:
    """`body` with its first value (or itself, when it holds none) nested `depth` deep."""
    if isinstance(body, dict) and body:
        first = next(iter(body))
        return {**body, first: nested(depth)}
    if isinstance(body, list) and body:
        return [nested(depth), *body[1:]]
    return nested(depth)


def hostile(
    case: Any, huge: int, depth: int, deep: bool, workflow: tuple[str, dict[str, Any]]
) -> Any:
    """The case with integers past 64 bits everywhere, or its body nested past the limit; an
    execute request runs a real workflow with a huge seed, to reach the record writer. The
    admin's credentials are the ones sent (not credentials the document lets it make up)."""
    if case.headers:
        case.headers = {
            name: value
            for name, value in case.headers.items()
            if name.lower() not in ("authorization", "x-api-key")
        }
    case.query = with_huge_integers(case.query, huge) if case.query else case.query
    if case.path.endswith("/workflows/execute"):
        name, rest = workflow
        wait = case.body.get("wait") if isinstance(case.body, dict) else None
        request = {"workflow": name, "input": {"seed": huge, **rest}, "wait": wait is not False}
        request = deepened(request, depth) if deep else request
        if case.media_type == "multipart/form-data":
            case.body = {"request": json.dumps(request)}
        else:
            case.body = request
        return case
    if case.media_type is None or "json" not in case.media_type or case.body is None:
        return case
    case.body = deepened(case.body, depth) if deep else with_huge_integers(case.body, huge)
    return case


def fuzz_hostile(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(), huge=HUGE, depth=DEPTH, deep=st.booleans(), w=WITH_SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any, huge: int, depth: int, deep: bool, w: tuple[str, dict[str, Any]]) -> None:
        hostile(case, huge, depth, deep, w).call_and_validate(
            headers=headers, timeout=30, checks=[not_a_server_error]
        )

    run()


def test_huge_integers_and_deep_nesting_cause_no_server_errors(tmp_path: Path) -> None:
    server = Server(tmp_path, env=auth_env()).start()
    try:
        headers = bearer(login(server.api, *ADMIN)["access_token"])
        schema = schemathesis.openapi.from_url(f"{server.api}/openapi.json")
        failures = []
        for operation in (result.ok() for result in schema.get_all_operations()):
            try:
                fuzz_hostile(operation, headers)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label}: {exc}")
        assert not failures, "\n\n".join(failures)
        # Nothing was left unwritable behind the fuzzing.
        health = httpx.get(f"{server.api}/health", timeout=10)
        assert health.status_code == 200, health.text
    finally:
        server.kill()
