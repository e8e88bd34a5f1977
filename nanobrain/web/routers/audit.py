"""The audit log, newest first, with filters (admin only)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from nanobrain.core.user import User
from nanobrain.runtime.errors import InvalidInput
from nanobrain.security.policy import ADMIN
from nanobrain.web.auth_schemas import AuditPage
from nanobrain.web.deps import require
from nanobrain.web.responses import JSON
from nanobrain.web.state import app_state

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/audit", response_model=AuditPage)
async def audit_log(
    request: Request,
    actor: str | None = Query(default=None, max_length=200, description="username"),
    actor_id: str | None = Query(default=None, max_length=64),
    action: str | None = Query(
        default=None, max_length=64, description="exact, or a prefix ending in '.' (`api_key.`)"
    ),
    target: str | None = Query(default=None, max_length=255),
    outcome: str | None = Query(default=None, max_length=16),
    since: datetime | None = Query(default=None, description="RFC 3339, inclusive"),
    until: datetime | None = Query(default=None, description="RFC 3339, exclusive"),
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: str | None = Query(default=None, pattern=r"^[0-9]{1,18}$"),
    user: User = Depends(require(ADMIN)),
) -> Response:
    audit = app_state(request).security.audit
    await audit.flush()
    entries = await audit.repository.query(
        actor=actor,
        actor_id=actor_id,
        action=action,
        target=target,
        outcome=outcome,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
        before_id=int(cursor) if cursor else None,
        limit=limit,
    )
    next_cursor = str(entries[-1]["id"]) if len(entries) == limit else None
    return JSON({"items": entries, "next_cursor": next_cursor})


def _aware(moment: datetime | None, name: str) -> datetime | None:
    """The time in UTC (one without a zone is taken as UTC); 422 for one that UTC cannot hold
    (`0001-01-01T00:00+14:00` is in year 0)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            f"`{name}` is out of range",
            [{"loc": ["query", name], "msg": "outside years 1-9999 in UTC", "type": "datetime"}],
        ) from None
