"""Every error becomes a problem response: 4xx for client mistakes, 503 with `Retry-After` while
the database, Redis or the disk is out, 500 only for real faults."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from nanobrain.runtime.errors import RuntimeProblem
from nanobrain.runtime.outages import RETRY_AFTER_SECONDS, Unavailable, unavailable
from nanobrain.store.failures import database_refused_value
from nanobrain.web.responses import problem

log = logging.getLogger(__name__)


class ProblemError(Exception):
    """Raise from a route to answer with a problem response."""

    def __init__(
        self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra


def _validation(exc: RequestValidationError) -> Response:
    errors = [
        {
            "loc": list(error.get("loc", ())),
            "msg": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    if any(error["type"] == "json_invalid" for error in errors):
        return problem(400, "the request body is not valid JSON", errors=errors)
    return problem(422, "the request does not match the API's schema", errors=errors)


def outage(exc: BaseException) -> dict[str, Any] | None:
    """What to tell a client about `exc` when it reports an outage of a backing service
    (`status`, `title`, `detail`, `dependency`, `retry_after`), logged once per request;
    None for any other error."""
    dependency = unavailable(exc)
    if dependency is None:
        return None
    log.warning("%s unavailable: %s: %s", dependency, type(exc).__name__, exc)
    detail = exc.detail if isinstance(exc, Unavailable) else (
        f"the {dependency} is unavailable; try again shortly"
    )  # fmt: skip
    return {
        "status": 503,
        "title": Unavailable.title,
        "detail": detail,
        "dependency": dependency,
        "retry_after": RETRY_AFTER_SECONDS,
    }


def outage_problem(described: dict[str, Any]) -> Response:
    """The 503 problem response, with `Retry-After`, for what `outage` described."""
    return problem(
        503,
        described["detail"],
        title=described["title"],
        headers={"Retry-After": str(described["retry_after"])},
        dependency=described["dependency"],
    )


async def problem_for(request: Request, exc: Exception) -> Response:
    """The problem response for any exception a route raised: 503 with `Retry-After` while a
    backing service is out, 500 (logged) for the unexpected."""
    if isinstance(exc, ProblemError):
        return problem(exc.status, exc.detail, headers=exc.headers, **exc.extra)
    if isinstance(exc, RuntimeProblem):  # Unavailable and StoreUnavailable carry Retry-After
        return problem(exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra)
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, detail, headers=dict(exc.headers or {}))
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    described = outage(exc)
    if described is not None:
        return outage_problem(described)
    if database_refused_value(exc):
        where = f"{request.method} {request.url.path}"
        log.warning("%s: the database refused a value (%s)", where, _first_line(exc))
        return problem(
            422,
            "the request holds a value the database cannot store (such as text with a NUL "
            "character, or longer than its field allows)",
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "an unexpected error occurred; it has been logged")


def _first_line(exc: BaseException) -> str:
    """The driver's message without the statement and parameters SQLAlchemy appends (which
    may hold user data or secrets)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__


# The families outages come in, handled like the problems (not left to the last-resort handler
# for `Exception`, which answers and then closes the connection, and logs a traceback).
_OUTAGE_FAMILIES = (
    RedisError,
    SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)


def install(app: FastAPI) -> None:
    kinds = (ProblemError, RuntimeProblem, HTTPException, RequestValidationError, *_OUTAGE_FAMILIES)
    for kind in (*kinds, Exception):
        app.add_exception_handler(kind, problem_for)
