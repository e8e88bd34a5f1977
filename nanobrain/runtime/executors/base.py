"""The executor interface: where and when executions run. The runner decides how."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from nanobrain.core.execution import ExecutionRecord
from nanobrain.core.user import User

if TYPE_CHECKING:
    from nanobrain.runtime.records.base import ExecutionRecords

SHUTDOWN = "shutdown"
USER_CANCEL = "cancelled"
HANDOVER = "handover"  # its worker is shutting down: settled as if the worker had died
REASONS = frozenset({SHUTDOWN, USER_CANCEL, HANDOVER})
"""Why an executor cancels a run; also the message of the task cancellation it makes."""


@dataclass(slots=True)
class Job:
    """What an executor needs to run one execution (serializable but for `validated`)."""

    execution_id: str
    kind: str
    name: str
    input: dict[str, Any]
    user: User
    session_id: str | None = None
    history: list[dict[str, Any]] | None = None  # a stateless chat turn's earlier messages
    validated: BaseModel | None = None  # the local executor skips re-validation
    cancel_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Load:
    """How busy the executor is: `/health` and the metrics report it."""

    running: int
    capacity: int  # slots (distributed: of the live workers)
    queued: int  # waiting for a slot or for their principal's share
    oldest_queued_seconds: float  # how long the longest of them has waited (0: none)

    def as_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "capacity": self.capacity,
            "saturation": round(self.running / self.capacity, 3) if self.capacity else 1.0,
            "queued": self.queued,
            "oldest_queued_seconds": round(self.oldest_queued_seconds, 3),
        }


class Runner(Protocol):
    async def run(self, job: Job) -> ExecutionRecord | None:
        """Run the job to a final state; never raises. The record it ran (None: not run)."""

    async def abandon(self, job: Job, reason: str) -> None:
        """Finalize a job that was cancelled before it started."""

    async def recover(self, job: Job, reason: str, *, max_attempts: int, cancelled: bool) -> bool:
        """Settle a job whose worker died (`reason` says how); True to deliver it again."""

    async def never_started(self, before: datetime) -> list[str]:
        """Executions queued in their first attempt since before `before` (oldest first)."""

    async def fail_unqueued(self, execution_id: str, message: str) -> bool:
        """Fail an execution that was never handed to the workers; False if it moved on."""


class Executor(ABC):
    @abstractmethod
    async def start(self, runner: Runner) -> None: ...

    @abstractmethod
    async def stop(self) -> None:
        """Stop taking work; interrupt what runs (it ends `failed`, reason: shutdown)."""

    @abstractmethod
    async def submit(self, job: Job) -> None: ...

    @abstractmethod
    async def admit(
        self,
        record: ExecutionRecord,
        job: Job | None,
        records: ExecutionRecords,
        *,
        durable: bool,
        run_here: bool,
    ) -> None:
        """Take a new execution (its record just added to `records`; no `job` when the cache
        answered it): make its record as durable as this executor needs (`durable`: the caller
        asks for it to be committed), then run or queue the job; `run_here` lets a caller that
        waits for the outcome anyway have it run in its own task. Raises (the request is
        refused) when the record or the job cannot be handed over; the execution is then failed."""

    @abstractmethod
    def abort(self, execution_id: str) -> None:
        """Stop a run whose record was replaced by its failed outcome (it could not be stored)."""

    @abstractmethod
    async def cancel(self, execution_id: str) -> bool:
        """Interrupt a queued or running execution; False if this executor does not hold it."""

    @property
    @abstractmethod
    def active(self) -> int:
        """Executions queued or running here."""

    @abstractmethod
    async def load(self) -> Load: ...

    async def check(self) -> dict[str, Any]:
        """The executor's part of `GET /health`: `status` is `ok` or `down`. A saturated
        executor is still `ok`: it is busy, not broken (its queue's age tells how busy)."""
        return {"status": "ok", "active": self.active, **(await self.load()).as_dict()}
