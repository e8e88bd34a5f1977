"""schemathesis against the app's own OpenAPI document, as an admin: whatever it sends, the server
answers without a 5xx and with responses that match the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
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
