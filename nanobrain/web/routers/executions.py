"""Execution history: the caller's executions, newest first, with cursor paging."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.user import User
from nanobrain.runtime.errors import InvalidInput
from nanobrain.runtime.files import can_see_all
from nanobrain.security.policy import READ
from nanobrain.store.executions import decode_cursor, encode_cursor
from nanobrain.web.deps import require
from nanobrain.web.responses import JSON
from nanobrain.web.schemas import ExecutionPage, status_body
from nanobrain.web.state import app_state

router = APIRouter(tags=["executions"])


@router.get("/executions", response_model=ExecutionPage)
async def history(
    request: Request,
    workflow: str | None = Query(default=None, max_length=200),
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    limit: int = Query(default=50, ge=1, le=200),
    cursor: str | None = Query(default=None, max_length=200),
    everyone: bool = Query(default=False, description="all users' executions (needs `write`)"),
    user: User = Depends(require(READ)),
) -> Response:
    records = app_state(request).executions.records
    await records.flush()
    owner = None if everyone and can_see_all(user) else user.id
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise InvalidInput(
            "invalid cursor", [{"loc": ["query", "cursor"], "msg": str(exc), "type": "cursor"}]
        ) from exc
    page = await records.repository.list(
        owner_id=owner,
        workflow=workflow,
        status=ExecutionStatus(status) if status else None,
        limit=limit + 1,
        after=after,
    )
    items = []
    for record in page[:limit]:
        item = status_body(record)
        item["kind"] = record.kind
        item["input"] = record.input
        items.append(item)
    next_cursor = encode_cursor(page[limit - 1]) if len(page) > limit else None
    return JSON({"items": items, "next_cursor": next_cursor})
