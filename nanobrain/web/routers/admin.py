"""Health, metrics and the effective configuration.

The executor's check reports its saturation (running / capacity), how many executions are queued
and how long the oldest has waited. Saturation alone leaves `/health` `ok` (200): a busy server
is not a broken one, and a probe that failed under load would take replicas out of service
exactly when they are needed. Alert on `nanobrain_executions_oldest_queued_seconds` instead."""

from __future__ import annotations

import hmac
import shutil
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import HTTPConnection
from starlette.responses import Response

from nanobrain.core.user import User
from nanobrain.observability.metrics import (
    EXECUTIONS_ACTIVE,
    EXECUTIONS_QUEUED,
    EXECUTOR_CAPACITY,
    EXECUTOR_RUNNING,
    OLDEST_QUEUED_SECONDS,
    RECORD_BACKLOG,
    RECORD_OLDEST_UNWRITTEN,
    STREAMS_OPEN,
)
from nanobrain.runtime.outages import RETRY_AFTER_SECONDS
from nanobrain.security.policy import ADMIN
from nanobrain.web.deps import Permission, declares, require
from nanobrain.web.openapi import PUBLIC
from nanobrain.web.responses import JSON
from nanobrain.web.state import AppState, app_state

router = APIRouter(tags=["admin"])
_RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}  # a dependency is down: ask again then
MIN_FREE_BYTES = 1 << 20  # less free space than this is a full disk


async def _checks(state: AppState) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = {
            "status": "ok",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    except Exception as exc:
        checks["database"] = {"status": "down", "error": type(exc).__name__}
    checks["storage"] = _storage(state)
    if state.redis is not None:
        started = time.perf_counter()
        try:
            await state.redis.ping()
            checks["redis"] = {
                "status": "ok",
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        except Exception as exc:
            checks["redis"] = {"status": "down", "error": type(exc).__name__}
    # The record writer: `down` when changes have waited unwritten too long (the database
    # refuses writes, or does not answer), though reads may still work.
    checks["record_writer"] = state.executions.records.check()
    try:
        checks["executor"] = await state.executions.executor.check()
    except Exception as exc:
        checks["executor"] = {"status": "down", "error": type(exc).__name__}
    return checks


def _storage(state: AppState) -> dict[str, Any]:
    """Free space where files (and SQLite's database) are written: a full disk fails uploads
    and records while reads still work, so a read alone would not tell."""
    settings = state.settings
    paths = {settings.files_dir}
    if settings.resolved_database_url.startswith("sqlite"):
        paths.add(settings.data_dir)
    free = [shutil.disk_usage(path).free for path in paths if path.exists()]
    lowest = min(free, default=MIN_FREE_BYTES)
    return {"status": "ok" if lowest >= MIN_FREE_BYTES else "down", "free_bytes": lowest}


@router.get("/health", openapi_extra=PUBLIC)
async def health(request: Request) -> Response:
    state = app_state(request)
    checks = await _checks(state)
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JSON(
        {"status": "ok" if healthy else "down", "checks": checks},
        status_code=200 if healthy else 503,
        headers=None if healthy else _RETRY,
    )


@router.get("/health/live", openapi_extra=PUBLIC)
async def live() -> Response:
    return JSON({"status": "ok"})


@router.get("/health/ready", openapi_extra=PUBLIC)
async def ready(request: Request) -> Response:
    state = app_state(request)
    checks = await _checks(state)
    is_ready = state.ready and all(check["status"] == "ok" for check in checks.values())
    body = {"status": "ready" if is_ready else "not ready", "checks": checks}
    return JSON(body, status_code=200 if is_ready else 503, headers=None if is_ready else _RETRY)


class MetricsAccess:
    """Who may read the metrics: Prometheus with the configured scrape token
    (`monitoring.metrics_token`, sent as `Authorization: Bearer`), or an admin. With
    authentication disabled (development) everyone is the local admin."""

    def __init__(self) -> None:
        self.admin = Permission(ADMIN)

    async def __call__(self, connection: HTTPConnection) -> None:
        token = app_state(connection).settings.web_interface.monitoring.metrics_token
        if token is not None:
            for name, value in connection.scope["headers"]:
                if name == b"authorization":
                    scheme, _, presented = value.partition(b" ")
                    expected = token.get_secret_value().encode()
                    if scheme.lower() == b"bearer" and hmac.compare_digest(presented, expected):
                        return
                    break
        await self.admin(connection)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
    description="Prometheus text exposition: for an admin, or with the scrape token "
    "(`monitoring.metrics_token`) as a bearer token.",
)
@declares(ADMIN)
async def metrics(request: Request, _: None = Depends(MetricsAccess())) -> Response:
    state = app_state(request)
    executor = state.executions.executor
    EXECUTIONS_ACTIVE.set(executor.active)
    records = state.executions.records
    RECORD_BACKLOG.set(records.backlog)
    RECORD_OLDEST_UNWRITTEN.set(records.oldest_unwritten_seconds())
    STREAMS_OPEN.set(state.streams)
    try:
        load = await executor.load()
    except Exception:  # Redis away: /health says so; the rest of the scrape still counts
        pass
    else:
        EXECUTOR_RUNNING.set(load.running)
        EXECUTOR_CAPACITY.set(load.capacity)
        EXECUTIONS_QUEUED.set(load.queued)
        OLDEST_QUEUED_SECONDS.set(load.oldest_queued_seconds)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/config")
async def config(request: Request, user: User = Depends(require(ADMIN))) -> Response:
    state = app_state(request)
    state.security.audit.record("config.read", request, actor=user)
    return JSON(state.settings.redacted())
