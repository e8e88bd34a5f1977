"""What the log redaction hides and what it leaves: credentials wherever a line may carry them,
and ordinary text as it was."""

from __future__ import annotations

import logging
import sys

import pytest

from nanobrain.observability.redaction import (
    RedactingFilter,
    redact,
    redact_event_dict,
    redact_query,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"
KEY = "nbk_2sPyTLASggqd9u9U1AU3izSEC40O6VEuhcyU06izXvU"
REFRESH = "nbr_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"GET /api/v1/ws?token={JWT} HTTP/1.1", JWT),
        ("https://idp/cb?state=s3cr3t-state&code=c0de-value", "c0de-value"),
        ("https://idp/cb?state=s3cr3t-state&code=c0de-value", "s3cr3t-state"),
        (f"< authorization: Bearer {JWT}", JWT),
        ("< authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        (f"< x-api-key: {KEY}", KEY),
        ("< cookie: session=abc123; theme=dark", "abc123"),
        ("{'X-API-Key': 'sk-live-123', 'accept': '*/*'}", "sk-live-123"),
        ('{"username": "ada", "password": "correct horse"}', "correct horse"),
        (f'{{"refresh_token": "{REFRESH}"}}', REFRESH),
        (f"refreshing with {REFRESH} failed", REFRESH),
        (f"key {KEY} was revoked", KEY),
        (f"token expired: {JWT}", JWT),
        ("client_secret=hunter2&grant_type=authorization_code", "hunter2"),
    ],
)
def test_credentials_are_redacted(line: str, secret: str) -> None:
    assert secret not in redact(line)
    assert "[REDACTED]" in redact(line)


@pytest.mark.parametrize(
    "line",
    [
        "GET /api/v1/executions?limit=5&status=succeeded",
        "Application startup complete.",
        "the code path in nanobrain.web.app 1.2.3 handles the key",
        "marked 3 execution(s) failed",
    ],
)
def test_ordinary_text_is_left_alone(line: str) -> None:
    assert redact(line) == line


def test_a_query_string_keeps_its_shape() -> None:
    query = f"limit=5&TOKEN={JWT}&q=nb%6B_{KEY[4:]}&api_key={KEY}&cursor=WyIy"
    assert redact_query(query) == (
        "limit=5&TOKEN=[REDACTED]&q=[REDACTED]&api_key=[REDACTED]&cursor=WyIy"
    )


def test_the_structlog_processor_and_the_logging_filter() -> None:
    event = redact_event_dict(None, "info", {"event": f"used {KEY}", "status": 200})
    assert event == {"event": "used nbk_[REDACTED]", "status": 200}
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "GET %s", (f"/?token={JWT}",), None)
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert JWT not in formatted and KEY not in formatted
    assert (
        "GET /?token=[REDACTED]" in formatted and "ValueError: bad key nbk_[REDACTED]" in formatted
    )
