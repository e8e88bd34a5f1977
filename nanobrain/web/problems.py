"""Every error becomes a problem response: 4xx for client mistakes, 500 only for real faults."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from nanobrain.runtime.errors import RuntimeProblem
from nanobrain.store.failures import database_refused_value, database_unavailable
from nanobrain.web.responses import problem

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER = "5"


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


async def problem_for(request: Request, exc: Exception) -> Response:
    """The problem response for any exception a route raised (500, logged, for the unexpected)."""
    if isinstance(exc, ProblemError):
        return problem(exc.status, exc.detail, headers=exc.headers, **exc.extra)
    if isinstance(exc, RuntimeProblem):
        return problem(exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra)
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem(exc.status_code, detail, headers=dict(exc.headers or {}))
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    if database_unavailable(exc):
        log.error(
            "%s %s: the database is unavailable (%s)",
            request.method,
            request.url.path,
            type(exc).__name__,
        )
        return problem(
            503,
            "the database is not available at the moment; try again shortly",
            headers={"Retry-After": DATABASE_RETRY_AFTER},
        )
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


def install(app: FastAPI) -> None:
    # Database errors by name, so that a 503 for an unavailable database is answered like any
    # problem (the catch-all `Exception` handler answers, then closes the connection).
    kinds = (ProblemError, RuntimeProblem, HTTPException, RequestValidationError, SQLAlchemyError)
    for kind in (*kinds, Exception):
        app.add_exception_handler(kind, problem_for)
