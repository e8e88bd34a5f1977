"""The execution model: an execution's statuses, the transitions between them, and its record.

The runtime's own model, below every store: the embedded and the shared records stores, the
executors and the web layer all speak it, and the database maps it to rows (`store.executions`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nanobrain.core.clock import utcnow


class ExecutionStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    final: bool  # an end state; set on each member below (read about ten times per execution)


_FINAL = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})
for _status in ExecutionStatus:
    _status.final = _status in _FINAL
_NONE: frozenset[ExecutionStatus] = frozenset()
_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.QUEUED: frozenset(
        {ExecutionStatus.RUNNING, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
    ),
    ExecutionStatus.RUNNING: _FINAL,
}


class InvalidTransition(RuntimeError):
    pass


@dataclass(slots=True)
class ExecutionRecord:
    """The durable record of one execution: who ran what, when, and how it ended."""

    id: str
    workflow: str
    owner_id: str
    kind: str = "workflow"
    status: ExecutionStatus = ExecutionStatus.QUEUED
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    progress_fraction: float | None = None
    progress_message: str | None = None
    progress_step: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    routed_from: str | None = None
    last_seq: int = 0
    attempts: int = 0
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def transition(self, status: ExecutionStatus) -> None:
        """Move along queued -> running -> succeeded | failed | cancelled, or raise."""
        if status not in _TRANSITIONS.get(self.status, _NONE):
            raise InvalidTransition(
                f"execution {self.id}: {self.status} -> {status} is not allowed"
            )
        self.status = status
        if status is ExecutionStatus.RUNNING:
            self.started_at = utcnow()
            self.attempts += 1
        elif status.final:
            self.finished_at = utcnow()

    def requeue(self) -> None:
        """Back to `queued` after its worker died, to run again (retry-safe workflows only)."""
        if self.status is not ExecutionStatus.RUNNING:
            raise InvalidTransition(f"execution {self.id}: only a running one can be requeued")
        self.status = ExecutionStatus.QUEUED
        self.started_at = None
