"""Errors the runtime raises for callers to turn into problem responses."""

from __future__ import annotations

from typing import Any


class RuntimeProblem(Exception):
    status = 400
    title = "Bad request"
    headers: dict[str, str] | None = None  # response headers, e.g. `Retry-After`

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(RuntimeProblem):
    status = 404
    title = "Not found"


class Conflict(RuntimeProblem):
    status = 409
    title = "Conflict"


class Forbidden(RuntimeProblem):
    status = 403
    title = "Forbidden"


class InvalidInput(RuntimeProblem):
    """Input that does not match a schema; `errors` lists `{loc, msg}` for each problem."""

    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, errors: list[dict[str, Any]]):
        super().__init__(detail, errors=errors)
        self.errors = errors


class TooLarge(RuntimeProblem):
    status = 413
    title = "Content too large"


class UnsupportedMediaType(RuntimeProblem):
    status = 415
    title = "Unsupported media type"


class StoreUnavailable(RuntimeProblem):
    """The database does not take writes now (down, full, locked, read-only): what needs a
    durable record cannot be answered; the client should try again after `retry_after`."""

    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after: int = 5):
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class FileUnreadable(RuntimeProblem):
    """A stored file that cannot be read back: damaged, tampered with, or encrypted with a key
    that is not configured. The store is at fault, not the caller: a 500, its reason logged."""

    status = 500
    title = "File unreadable"


class ChatUnreadable(RuntimeProblem):
    """A stored chat session or message that cannot be read back: damaged, tampered with, or
    encrypted with a key that is not configured. As for files: a 500, its reason logged."""

    status = 500
    title = "Chat unreadable"


def validation_errors(exc: Any, prefix: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """Pydantic errors as `{loc, msg}` without echoing the (possibly huge or secret) input."""
    return [
        {"loc": [*prefix, *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
