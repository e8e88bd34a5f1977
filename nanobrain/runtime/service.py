"""The one path every execution takes: validate -> record -> executor -> events -> outcome.

REST, SSE, WebSocket, chat, agents, tools and the CLI are all clients of `ExecutionService`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.ids import new_id
from nanobrain.core.registry import Registry
from nanobrain.core.spec import Runnable
from nanobrain.core.types import File
from nanobrain.core.user import User
from nanobrain.llm.base import LLMProvider
from nanobrain.runtime.cache import ResultCache, result_key
from nanobrain.runtime.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    validation_errors,
)
from nanobrain.runtime.events.base import Event, EventBus
from nanobrain.runtime.executors.base import Executor, Job
from nanobrain.runtime.files import FileService, can_see_all
from nanobrain.runtime.outages import Unavailable, unavailable
from nanobrain.runtime.records import ExecutionRecords
from nanobrain.runtime.runner import INTERRUPTED, ExecutionRunner, Publisher, lookup
from nanobrain.security.directory import AccountGone, UserDirectory

# Raises unless the user may add a turn to the chat session (ChatService installs it).
SessionCheck = Callable[[str, User], Awaitable[None]]


def visible(record: ExecutionRecord, viewer: User) -> bool:
    """Whether `viewer` may see the execution: its owner, or a role that sees everyone's."""
    return record.owner_id == viewer.id or can_see_all(viewer)


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
        dependency_timeout: float = 5.0,
    ):
        self.registry = registry
        self.dependency_timeout = dependency_timeout
        self.records = records
        self.bus = bus
        self.executor = executor
        self.files = files
        self.default_timeout = default_timeout
        self.cache = cache
        self.llm = llm
        self.agents: dict[str, Runnable] = {}  # filled by nanobrain.runtime.agents.install
        # Who may add to a chat session an execution names: set by the ChatService.
        self.session_check: SessionCheck | None = None
        # Accounts as they stand now, for actions a running execution takes on its user's
        # behalf (an agent's tool calls); None with authentication off.
        self.accounts: UserDirectory | None = None
        self.runnables: dict[str, dict[str, Runnable]] = {
            "workflow": registry.workflows,
            "tool": registry.tools,
            "agent": self.agents,
        }
        self.publisher = Publisher(bus, records)
        self.runner = ExecutionRunner(
            self.runnables,
            records,
            self.publisher,
            files,
            default_timeout=default_timeout,
            cache=cache,
            llm=llm,
        )
        records.on_unwritable = self._unwritable
        self._stopping: set[asyncio.Task[Any]] = set()

    def _unwritable(self, record: ExecutionRecord, was_final: bool) -> None:
        """The record writer replaced `record` by its failed outcome (it could not store it):
        end its event stream the same way, and stop its run if it still goes on."""
        if was_final:
            return  # its stream already ended; status and results now tell the failure
        self.publisher.announce(record)
        if self.executor.in_process:
            task = asyncio.get_running_loop().create_task(self.executor.cancel(record.id))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def start(self) -> int:
        """Start the pieces; return how many executions a dead process left unfinished.

        Only an executor that runs executions in this process owns the unfinished ones; with
        workers elsewhere, their heartbeats tell which executions lost their worker."""
        self.runner.deadlines.bind(asyncio.get_running_loop())
        interrupted = 0
        if self.executor.in_process:
            interrupted = await self.records.repository.fail_unfinished(INTERRUPTED)
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
        record = await self.records.get(execution_id) if _plausible_id(execution_id) else None
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
        record, job = await self._accept(
            runnable, raw_input, user, session_id, request_id, routed_from, execution_id, history
        )
        if not self.executor.in_process:
            await self._hand_to_workers(record, job)
            return record
        if durable:
            try:
                await self.records.flush()
            except StoreUnavailable:
                # Refused (503): the run never starts, and its record, written once the database
                # takes writes again, says so.
                self._refused(record)
                raise
        if job is None:  # answered from the cache
            return record
        if not (run_here and await self.executor.run_here(job)):
            await self.executor.submit(job)
        return record

    async def _hand_to_workers(self, record: ExecutionRecord, job: Job | None) -> None:
        """Distributed: commit the record and its first events (a worker may take the job at
        once, and must find both), then push the job, all within `dependency_timeout`. If the
        database or Redis fails that, the request is refused (503) and the execution does not
        run: its record is failed (by a compare-and-set if it was committed, else with the next
        batch the database takes; the stranded-execution sweep is the last resort,
        `DistributedExecutor.settle_stranded`)."""
        stored = asyncio.ensure_future(self.records.flush())
        try:
            async with asyncio.timeout(self.dependency_timeout):
                await asyncio.gather(stored, self.bus.flush())
                if job is not None:
                    await self.executor.submit(job)
        except Exception as exc:
            committed = stored.done() and not stored.cancelled() and stored.exception() is None
            stored.cancel()
            dependency = unavailable(exc) or (
                ("redis" if committed else "database") if isinstance(exc, TimeoutError) else None
            )
            if dependency is None:
                raise
            if not record.status.final:
                error = {"type": "unavailable", "message": _refusal(dependency)}
                with contextlib.suppress(Exception):  # else the stranded sweep fails it later
                    async with asyncio.timeout(self.dependency_timeout):
                        await self.publisher.refuse(record, error, committed=committed)
            if isinstance(exc, StoreUnavailable):
                raise  # with the writer's own Retry-After
            raise Unavailable(dependency) from exc

    def _refused(self, record: ExecutionRecord) -> None:
        if record.status.final:  # already replaced by the writer's own failed outcome
            return
        record.transition(ExecutionStatus.FAILED)
        record.error = {
            "type": "store_unavailable",
            "message": "not started: the database was not taking writes, so the request that "
            "asked for it was refused",
        }
        if self.records.shared:  # nobody else knows of it yet: no events, no commit to wait on
            self.records.touch(record)
        else:
            self.publisher.announce(record)

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
        record, job = await self._accept(
            runnable, raw_input, user, session_id, None, None, None, None
        )
        if job is None:  # answered from the cache
            return record
        if self.records.shared:
            await self.records.flush()  # the runner claims the stored record
        await self.runner.run(job)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        if self.records.shared:  # the runner worked on the claimed copy
            return await self.records.get(record.id) or record
        return record

    async def _accept(
        self,
        runnable: Runnable,
        raw_input: Any,
        user: User,
        session_id: str | None,
        request_id: str | None,
        routed_from: str | None,
        execution_id: str | None,
        history: list[dict[str, Any]] | None,
    ) -> tuple[ExecutionRecord, Job | None]:
        if not user.can("execute"):
            raise Forbidden("your role may not run workflows")
        if not runnable.allows(user.role):
            raise NotFound(f"no {runnable.kind} named {runnable.name!r}")
        if session_id is not None and self.session_check is not None:
            await self.session_check(session_id, user)  # whoever calls: HTTP, socket, MCP...
        raw_input = {} if raw_input is None else raw_input
        if not isinstance(raw_input, dict):
            raise InvalidInput(
                "input must be a JSON object",
                [{"loc": ["input"], "msg": "Input should be an object", "type": "dict_type"}],
            )
        try:
            validated = runnable.input_model.__pydantic_validator__.validate_python(raw_input)
        except ValidationError as exc:
            raise InvalidInput(
                f"input does not match the schema of {runnable.name!r}",
                validation_errors(exc, ("input",)),
            ) from exc
        if runnable.file_fields:
            await self._check_files(runnable, validated, user)
        hit, output = False, None
        if self.cache is not None and runnable.cache:
            hit, output = await self.cache.get(result_key(runnable, user.id, validated))
        record = ExecutionRecord(
            id=execution_id or new_id(),
            workflow=runnable.name,
            kind=runnable.kind,
            owner_id=user.id,
            input=raw_input,
            session_id=session_id,
            request_id=request_id,
            routed_from=routed_from,
        )
        self.records.add(record)
        self.publisher.status(record)
        if hit:
            self._reuse(record, output)
            return record, None
        job = Job(
            execution_id=record.id,
            kind=runnable.kind,
            name=runnable.name,
            input=raw_input,
            user=user,
            session_id=session_id,
            history=history,
            validated=validated,
        )
        return record, job

    def _reuse(self, record: ExecutionRecord, output: Any) -> None:
        """Finish a new execution with a cached output: the same record and events as a run."""
        record.transition(ExecutionStatus.RUNNING)
        self.publisher.status(record)
        record.transition(ExecutionStatus.SUCCEEDED)
        record.output = output
        record.progress_fraction = 1.0
        self.publisher.publish(
            record, "result", {"output": output, "artifacts": [], "cached": True}
        )
        self.publisher.status(record)

    async def _check_files(self, runnable: Runnable, validated: Any, user: User) -> None:
        errors = []
        for name in runnable.file_fields:
            value = getattr(validated, name)
            for index, file in enumerate(value if isinstance(value, list) else [value]):
                if not isinstance(file, File):
                    continue
                try:
                    await self.files.get(file.file_id, user)
                except NotFound:
                    loc: list[Any] = ["input", name] + ([index] if isinstance(value, list) else [])
                    errors.append(
                        {"loc": loc, "msg": f"unknown file_id {file.file_id!r}", "type": "file"}
                    )
        if errors:
            raise InvalidInput("input names files that do not exist", errors)

    async def wait(self, record: ExecutionRecord, max_wait: float) -> ExecutionRecord:
        """Wait up to `max_wait` seconds for a final state; return the record as it then is."""
        if record.status.final:
            return record
        if self.executor.in_process:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.records.finished(record)), max_wait)
            return record
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_wait):
                async with contextlib.aclosing(self.bus.subscribe(record.id)) as events:
                    async for event in events:
                        if event.final:
                            break
        return await self.records.get(record.id) or record

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
        if record.status is ExecutionStatus.QUEUED and not self.executor.in_process:
            # No worker has it yet: end it here, unless one takes it meanwhile.
            if await self.publisher.finish(record, ExecutionStatus.CANCELLED):
                return record
            record = await self.records.get(record.id) or record
            if record.status.final:
                return record
        if not await self.executor.cancel(record.id):
            # Not held by any executor (gone with a dead process): end it here.
            await self.publisher.finish(record, ExecutionStatus.CANCELLED)
        return record

    async def events(self, record: ExecutionRecord, after: int) -> AsyncIterator[Event]:
        """The execution's events after `after`; for one the bus no longer holds (expired, or from
        before a restart) the outcome is rebuilt from the durable record."""
        async for batch in self.event_batches(record, after):
            for event in batch:
                yield event

    async def event_batches(
        self, record: ExecutionRecord, after: int
    ) -> AsyncIterator[list[Event]]:
        """`events`, as lists of the events that are there at once (see `subscribe_batches`)."""
        if not record.status.final or await self.bus.known(record.id):
            async for batch in self.bus.subscribe_batches(record.id, after):
                yield batch
            return
        rebuilt = [event for event in _events_from_record(record) if event.seq > after]
        if rebuilt:
            yield rebuilt


def _refusal(dependency: str) -> str:
    return f"not run: the {dependency} was unavailable when it was submitted (answered 503)"


def _plausible_id(value: str) -> bool:
    return len(value) == 32 and value.isalnum()


def _events_from_record(record: ExecutionRecord) -> list[Event]:
    """The closing events of a finished execution, numbered as they were originally."""
    if not record.status.final:
        return []
    ts = (record.finished_at or record.created_at).timestamp()
    last = max(record.last_seq, 2)
    common: dict[str, Any] = {
        "stream": record.id,
        "ts": ts,
        "execution_id": record.id,
        "session_id": record.session_id,
    }
    closing: list[Event] = []
    if record.status is ExecutionStatus.SUCCEEDED:
        closing.append(
            Event(
                seq=last - 1,
                type="result",
                data={"output": record.output, "artifacts": record.artifacts},
                **common,
            )
        )
    elif record.error is not None:
        closing.append(Event(seq=last - 1, type="error", data=record.error, **common))
    status: dict[str, Any] = {"status": record.status.value}
    if record.error is not None:
        status["error"] = record.error
    closing.append(Event(seq=last, type="status", data=status, final=True, **common))
    return closing
