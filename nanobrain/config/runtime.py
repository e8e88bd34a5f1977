"""`runtime` and `realtime`: how executions run, and how their events reach clients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator, model_validator

from nanobrain.config.base import Role, Section


class FairShareConfig(Section):
    """Per principal (a user, whatever credential it uses), by role; `null`: no limit.

    `running`: executions running at once; the principal's others wait `queued`, and queued
    executions of different principals start in turn. `streams`: SSE streams and WebSockets open
    at once (429, or WebSocket close 4429, past it). Off (development): no limit on either, and
    queued executions still start in turn."""

    enabled: bool = True
    running: dict[Role, int | None] = {"admin": 16, "developer": 16, "user": 8, "guest": 1}
    streams: dict[Role, int | None] = {"admin": 64, "developer": 64, "user": 16, "guest": 8}

    @field_validator("running", "streams")
    @classmethod
    def _positive(cls, limits: dict[Role, int | None]) -> dict[Role, int | None]:
        for role, limit in limits.items():
            if limit is not None and limit < 1:
                raise ValueError(f"{role}: {limit} must be at least 1 (or null: no limit)")
        return limits

    def running_limits(self) -> dict[str, int]:
        """Role -> limit, for the roles that have one (none when off)."""
        return _set_limits(self.running) if self.enabled else {}

    def stream_limits(self) -> dict[str, int]:
        return _set_limits(self.streams) if self.enabled else {}


def _set_limits(limits: Mapping[Role, int | None]) -> dict[str, int]:
    return {role: limit for role, limit in limits.items() if limit is not None}


class RuntimeConfig(Section):
    # embedded: one process, in-process executor and event bus (any database); distributed: API
    # replicas and `nanobrain worker`s sharing PostgreSQL (database_url) and Redis (redis_url).
    mode: Literal["embedded", "distributed"] = "embedded"
    max_concurrency: int = Field(default=32, ge=1)
    fair_share: FairShareConfig = Field(default_factory=FairShareConfig)
    default_timeout_seconds: float = Field(default=3600, gt=0)
    event_retention_seconds: float = Field(default=600, ge=0)
    max_events_per_stream: int = Field(default=10_000, ge=1)
    max_retained_streams: int = Field(default=10_000, ge=1)
    shutdown_grace_seconds: float = Field(default=5, ge=0)
    write_behind_seconds: float = Field(default=0.05, ge=0, le=10)
    # How long a request that needs its record written waits before a 503 (`Retry-After`), how
    # long unwritten changes may wait before /health reports the writer stuck, and the final
    # flush's deadline at shutdown.
    flush_timeout_seconds: float = Field(default=5, gt=0, le=60)
    # Distributed mode: how workers prove they are alive, and what happens to the executions of
    # one that stops doing so.
    heartbeat_seconds: float = Field(default=2, gt=0)
    worker_timeout_seconds: float = Field(default=10, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    # The longest a request waits on the database or Redis before it answers 503 (connecting,
    # a pool slot, a command, handing a job to the workers).
    dependency_timeout_seconds: float = Field(default=5, gt=0)
    # Distributed mode: an execution still `queued` this long after it was created, and never
    # handed to the workers (its API replica died, or lost Redis, in between), is failed.
    stranded_after_seconds: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _timeout_spans_heartbeats(self) -> RuntimeConfig:
        if self.worker_timeout_seconds <= self.heartbeat_seconds:
            raise ValueError("worker_timeout_seconds must be longer than heartbeat_seconds")
        if self.stranded_after_seconds <= 2 * self.dependency_timeout_seconds:
            raise ValueError(
                "stranded_after_seconds must be more than twice dependency_timeout_seconds"
            )
        return self


class RealtimeConfig(Section):
    """Streaming transports: SSE keep-alives, WebSocket limits, drain on shutdown."""

    sse_ping_seconds: float = Field(default=15, gt=0)
    # A client whose socket takes no data for this long is dropped (WebSocket: close 1013).
    send_timeout_seconds: float = Field(default=30, gt=0)
    ws_idle_timeout_seconds: float = Field(default=300, gt=0)
    ws_auth_timeout_seconds: float = Field(default=10, gt=0)
    ws_max_subscriptions: int = Field(default=64, ge=1)
    # How often an open socket's principal is checked again (each delivered batch is too).
    ws_recheck_seconds: float = Field(default=2, gt=0)
    drain_seconds: float = Field(default=2, ge=0)
