"""The audit log: who did what to what, when, from where, with which request id.

Entries are queued in memory and appended in batches by `flush` (called by a background task,
at shutdown, and before every read), so recording costs a request almost nothing. Callers pass
identifiers only: never passwords, tokens or keys.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from starlette.requests import HTTPConnection

from nanobrain.core import jsoncodec
from nanobrain.core.clock import utcnow
from nanobrain.core.user import User
from nanobrain.store.audit import AuditRepository
from nanobrain.store.failures import database_unavailable

log = logging.getLogger(__name__)
MAX_QUEUED = 100_000
_TEXT_LIMITS = {"actor": 200, "target": 255, "client": 64, "request_id": 128}


def client_address(connection: HTTPConnection) -> str | None:
    """The client's address: the peer's, unless the peer is one of the proxies configured in
    `server_config.forwarded_allow_ips`, whose X-Forwarded-For the server (uvicorn's proxy
    headers middleware, set up by `nanobrain serve`) has then already put in the scope."""
    client = connection.scope.get("client")
    return client[0] if client else None


class AuditLog:
    def __init__(self, repository: AuditRepository):
        self.repository = repository
        self._queue: list[dict[str, Any]] = []

    def record(
        self,
        action: str,
        connection: HTTPConnection | None,
        *,
        actor: User | None = None,
        actor_name: str | None = None,
        target: str | None = None,
        outcome: str = "success",
        at: datetime | None = None,
        **detail: Any,
    ) -> None:
        """Queue an entry; `at` is when it happened (default: now)."""
        if len(self._queue) >= MAX_QUEUED:
            log.error("audit queue full: dropping %s", action)
            return
        scope = connection.scope if connection is not None else {}
        self._queue.append(
            {
                "at": at or utcnow(),
                "actor_id": actor.id if actor else None,
                "actor": actor.username if actor else actor_name,
                "action": action,
                "target": target,
                "outcome": outcome,
                "client": client_address(connection) if connection is not None else None,
                "request_id": scope.get("state", {}).get("request_id"),
                "detail": detail or None,
            }
        )

    async def flush(self) -> None:
        """Write the queued entries. Raises (keeping them queued) when the database does not
        take writes; an entry it refuses for what it holds does not hold up the others."""
        if not self._queue:
            return
        batch, self._queue = self._queue, []
        try:
            await self.repository.append(batch)
        except Exception as exc:
            if database_unavailable(exc):
                self._queue[:0] = batch  # keep them for the next attempt
                raise
            await self._one_by_one(batch)

    async def _one_by_one(self, batch: list[dict[str, Any]]) -> None:
        for index, entry in enumerate(batch):
            try:
                await self.repository.append([entry])
                continue
            except Exception as exc:
                if database_unavailable(exc):
                    self._queue[:0] = batch[index:]
                    raise
            try:  # with what the database refused made storable
                await self.repository.append([_storable(entry)])
            except Exception as exc:
                if database_unavailable(exc):
                    self._queue[:0] = batch[index:]
                    raise
                log.error(
                    "audit entry %s at %s cannot be written (%s); dropped",
                    entry.get("action"),
                    entry.get("at"),
                    type(exc).__name__,
                )


def _storable(entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` with text every database takes (no NUL, no lone surrogate, within its column)
    and a detail that is JSON, marked as changed."""
    fixed = dict(entry)
    for name, limit in _TEXT_LIMITS.items():
        value = fixed.get(name)
        if isinstance(value, str):
            value = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode()
            fixed[name] = value[:limit]
    try:
        jsoncodec.check(fixed.get("detail"))
    except jsoncodec.Unencodable:
        fixed["detail"] = {}
    fixed["detail"] = {**(fixed.get("detail") or {}), "altered_to_store": True}
    return fixed
