"""The one path every execution takes: validate -> record -> executor -> events -> outcome.

REST, SSE, WebSocket, chat, agents, tools and the CLI are all clients of `ExecutionService`. Its
parts: `admission` (a request becomes an execution), the records store (`records`: how records
are kept and outcomes settled), the executor (where runs happen), `runner` (a run), `replay`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.registry import Registry
from nanobrain.core.spec import Runnable
from nanobrain.core.user import User
from nanobrain.llm.base import LLMProvider
from nanobrain.runtime.admission import Admission
from nanobrain.runtime.cache import ResultCache
from nanobrain.runtime.errors import Conflict, Forbidden, NotFound
from nanobrain.runtime.events.base import Event, EventBus
from nanobrain.runtime.executors.base import Executor
from nanobrain.runtime.files import FileService
from nanobrain.runtime.lookups import lookup, plausible_id, visible
from nanobrain.runtime.records.base import ExecutionRecords
from nanobrain.runtime.replay import event_batches
from nanobrain.runtime.runner import ExecutionRunner
from nanobrain.security.directory import AccountGone, UserDirectory


class ExecutionService:
    def __init__(
        self,
        registry: Registry,
        records: ExecutionRecords,
        bus: EventBus,
        executor: Executor,
        files: FileService,
        *,
        default_timeout: float,
        cache: ResultCache | None = None,
        llm: LLMProvider | None = None,
    ):
        self.registry = registry
        self.records = records
        self.publisher = records.publisher
        self.bus = bus
        self.executor = executor
        self.files = files
        self.default_timeout = default_timeout
        self.cache = cache
        self.llm = llm
        self.agents: dict[str, Runnable] = {}  # filled by nanobrain.runtime.agents.install
        self.admission = Admission(records, files, cache)
        # Accounts as they stand now, for actions a running execution takes on its user's
        # behalf (an agent's tool calls); None with authentication off.
        self.accounts: UserDirectory | None = None
        self.runnables: dict[str, dict[str, Runnable]] = {
            "workflow": registry.workflows,
            "tool": registry.tools,
            "agent": self.agents,
        }
        self.runner = ExecutionRunner(
            self.runnables,
            records,
            files,
            default_timeout=default_timeout,
            cache=cache,
            llm=llm,
        )
        records.on_unwritable = self._unwritable

    def _unwritable(self, record: ExecutionRecord, was_final: bool) -> None:
        """The record writer replaced `record` by its failed outcome (it could not store it):
        end its event stream the same way, and stop its run if it still goes on."""
        if was_final:
            return  # its stream already ended; status and results now tell the failure
        self.records.announce(record)
        self.executor.abort(record.id)

    async def start(self) -> int:
        """Start the pieces; return how many executions a dead process left unfinished."""
        self.runner.deadlines.bind(asyncio.get_running_loop())
        interrupted = await self.records.fail_unfinished()
        await self.bus.start()
        await self.records.start()
        await self.executor.start(self.runner)
        return interrupted

    async def stop(self) -> None:
        await self.executor.stop()
        await self.records.close()
        await self.bus.close()
        if self.llm is not None:
            await self.llm.aclose()

    def timeout_for(self, runnable: Runnable) -> float:
        return self.runner.timeout_for(runnable)

    # -- lookups ---------------------------------------------------------------------------
    def runnable(self, kind: str, name: str, user: User) -> Runnable:
        """The workflow or tool if it exists and `user` may see it (else 404, never a hint)."""
        runnable = lookup(self.runnables, kind, name)
        if runnable is None or not runnable.allows(user.role):
            raise NotFound(f"no {kind} named {name!r}")
        return runnable

    async def get(self, execution_id: str, viewer: User) -> ExecutionRecord:
        record = await self.records.get(execution_id) if plausible_id(execution_id) else None
        if record is None or not visible(record, viewer):
            raise NotFound(f"no execution {execution_id!r}")
        return record

    # -- running -----------------------------------------------------------------------------
    async def submit(
        self,
        runnable: Runnable,
        raw_input: Any,
        user: User,
        *,
        session_id: str | None = None,
        request_id: str | None = None,
        routed_from: str | None = None,
        durable: bool = True,
        run_here: bool = False,
        execution_id: str | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> ExecutionRecord:
        """Validate and enqueue. `durable=False` skips waiting for the record's commit, and
        `run_here=True` runs it in the calling task when the executor can: both for callers that
        wait for the outcome anyway. `execution_id` lets a caller that records something about the
        execution beforehand (a chat message) choose its id; `history` carries a stateless chat
        turn's earlier messages."""
        record, job = await self.admission.accept(
            runnable,
            raw_input,
            user,
            session_id=session_id,
            request_id=request_id,
            routed_from=routed_from,
            execution_id=execution_id,
            history=history,
        )
        await self.executor.admit(record, job, self.records, durable=durable, run_here=run_here)
        return record

    async def run_nested(
        self, runnable: Runnable, raw_input: Any, user: User, *, session_id: str | None = None
    ) -> ExecutionRecord:
        """Run an execution that a running one starts (an agent's tool call) to its end, in the
        calling task: the caller already holds an executor slot, and waiting for a second one
        could deadlock. A cancel of the caller cancels this execution, then the caller.

        The user acts as its account stands now, not as it stood when the caller started: a
        user demoted, disabled or deleted meanwhile has its tool calls refused."""
        if self.accounts is not None:
            try:
                user = await self.accounts.standing(user)
            except AccountGone as exc:
                raise Forbidden(str(exc)) from None
        record, job = await self.admission.accept(runnable, raw_input, user, session_id=session_id)
        if job is None:  # answered from the cache
            return record
        ran = await self.runner.run(job)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        if ran is not None:  # the record the run ended (shared: its claimed copy)
            return ran
        return await self.records.get(record.id) or record

    async def wait(self, record: ExecutionRecord, max_wait: float) -> ExecutionRecord:
        """Wait up to `max_wait` seconds for a final state; return the record as it then is."""
        if record.status.final:
            return record
        return await self.records.wait(record, max_wait)

    async def cancel(self, execution_id: str, user: User) -> ExecutionRecord:
        """Cancel an execution of one's own, or anyone's with `admin` (API.md: `write` sees
        other users' executions, but does not cancel them)."""
        record = await self.get(execution_id, user)
        if not user.can("execute"):
            raise Forbidden("your role may not cancel executions")
        if record.owner_id != user.id and not user.can("admin"):
            raise Forbidden("only its owner or an admin may cancel this execution")
        if record.status.final:
            raise Conflict(
                f"execution already {record.status.value}", execution_status=record.status.value
            )
        record = await self.records.cancel_unclaimed(record)
        if record.status.final:
            return record
        if not await self.executor.cancel(record.id):
            # Not held by any executor (gone with a dead process): end it here.
            await self.records.finish(record, ExecutionStatus.CANCELLED)
        return record

    # -- reading -----------------------------------------------------------------------------
    async def events(self, record: ExecutionRecord, after: int) -> AsyncIterator[Event]:
        """The execution's events after `after` (`replay`)."""
        async for batch in event_batches(self.bus, record, after):
            for event in batch:
                yield event

    def event_batches(self, record: ExecutionRecord, after: int) -> AsyncIterator[list[Event]]:
        """`events`, as lists of the events that are there at once (see `subscribe_batches`)."""
        return event_batches(self.bus, record, after)
