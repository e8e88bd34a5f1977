"""Runs one execution to a final state: the only place a workflow's code is called.

Every way of running (local tasks, distributed workers) goes through `ExecutionRunner.run`, so the
state machine, the events and the record are the same whatever the executor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from nanobrain.core import jsoncodec
from nanobrain.core.context import Context
from nanobrain.core.errors import WorkflowError
from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.spec import Runnable
from nanobrain.core.types import File
from nanobrain.llm.base import LLMProvider, MeteredLLM
from nanobrain.observability.metrics import EXECUTION_SECONDS, EXECUTIONS
from nanobrain.runtime.cache import ResultCache, result_key
from nanobrain.runtime.deadlines import Deadlines
from nanobrain.runtime.errors import (
    ChatUnreadable,
    FileUnreadable,
    RuntimeProblem,
    validation_errors,
)
from nanobrain.runtime.events.base import EventBus
from nanobrain.runtime.executors.base import HANDOVER, REASONS, SHUTDOWN, Job
from nanobrain.runtime.files import ExecutionFiles, FileService
from nanobrain.runtime.outages import unavailable
from nanobrain.runtime.records import ExecutionRecords

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the server stopped while this execution was running"
OUTAGE_RETRY_SECONDS = 0.5
UNENCODABLE = "unencodable_output"
MAX_STEP_LENGTH = 200  # the column's width


Runnables = Mapping[str, Mapping[str, Runnable]]
"""What can run, by kind (`workflow`, `tool`, `agent`) and name."""


def lookup(runnables: Runnables, kind: str, name: str) -> Runnable | None:
    table = runnables.get(kind)
    return table.get(name) if table is not None else None


class ChatTurns(Protocol):
    """Where chat turns keep their conversation (the chat service)."""

    async def open_turn(
        self, record: ExecutionRecord
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The session's earlier messages and its state."""

    async def close_turn(
        self, record: ExecutionRecord, context: Context, reply: str, usage: dict[str, int] | None
    ) -> dict[str, Any]:
        """Store the turn's tool messages, the reply and the state; return the `complete` data."""


def reply_text(output: Any) -> str:
    """A chat workflow's output as message text."""
    if isinstance(output, str):
        return output
    if isinstance(output, dict) and output.get("kind") == "markdown":
        return str(output.get("text", ""))
    return jsoncodec.dumps_text(output, jsoncodec.OPTIONS | orjson.OPT_INDENT_2)


def encodable(value: Any, what: str) -> None:
    """Raise `Unencodable` naming `what` unless `value` can be stored and sent as JSON: such a
    value fails its own execution here, not a write or a stream later for everyone."""
    try:
        jsoncodec.check(value)
    except jsoncodec.Unencodable as exc:
        raise jsoncodec.Unencodable(f"{what} cannot be stored or sent: {exc}") from None


def _text(value: Any, what: str) -> str:
    """A progress message or step as storable text."""
    if not isinstance(value, str):
        value = str(value)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise jsoncodec.Unencodable(
                f"{what} cannot be stored or sent: it holds a lone surrogate, which is not "
                "valid Unicode"
            ) from None
    return value


class Publisher:
    """Publishes an execution's events and keeps its record's `last_seq` in step."""

    def __init__(self, bus: EventBus, records: ExecutionRecords, patience: float | None = 5.0):
        self.bus = bus
        self.records = records
        # Distributed: how long `finish` keeps trying to record an outcome through an outage of
        # the database or Redis (None, on workers: until it is recorded).
        self.patience = patience
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def publish(
        self, record: ExecutionRecord, event_type: str, data: Any, final: bool = False
    ) -> None:
        record.last_seq = self.bus.publish(
            record.id,
            event_type,
            data,
            final=final,
            execution_id=record.id,
            session_id=record.session_id,
        ).seq

    def status(self, record: ExecutionRecord) -> None:
        self.publish(record, "status", _status_data(record), final=record.status.final)
        if not self.records.shared:  # shared: states are written by claim and commit
            self.records.touch(record)

    async def finish(
        self,
        record: ExecutionRecord,
        status: ExecutionStatus,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Record the outcome, then publish it: `result` or `error`, then the final `status`.
        False if the execution had already ended, here or (distributed) in another process."""
        if record.status.final:
            return False
        observed, attempts = record.status, record.attempts
        record.transition(status)
        if status is ExecutionStatus.SUCCEEDED:
            record.output = output
            record.progress_fraction = 1.0
        elif error is not None:
            record.error = error
        closing = _closing(record)
        if self.records.shared:
            # A cancellation arriving meanwhile must not leave the outcome half recorded.
            finished = asyncio.ensure_future(
                self._settle_patiently(record, observed, attempts, closing)
            )
            try:
                if not await asyncio.shield(finished):
                    return False
            except asyncio.CancelledError:
                await finished
                raise
        else:
            self._announce(record, closing)
            self.records.touch(record)
        counter, durations = self._metrics(record.workflow, status.value)
        counter.inc()
        if record.started_at is not None and record.finished_at is not None:
            durations.observe((record.finished_at - record.started_at).total_seconds())
        return True

    async def _settle(
        self,
        record: ExecutionRecord,
        observed: ExecutionStatus,
        attempts: int,
        closing: list[tuple[str, Any]],
    ) -> bool:
        """Distributed: other processes act on the final event (a waiter reads the record then),
        so the outcome is committed first, numbered with the seq its final event will have, and
        the events are stored before the job is acknowledged."""
        record.last_seq = await self.bus.last_seq(record.id) + len(closing) + 1
        if not await self.records.commit(record, observed, attempts):
            return False
        self._announce(record, closing)
        await self.bus.flush()
        return True

    async def _settle_patiently(
        self,
        record: ExecutionRecord,
        observed: ExecutionStatus,
        attempts: int,
        closing: list[tuple[str, Any]],
    ) -> bool:
        """`_settle`, tried again while the database or Redis is out. A try cut off by the
        outage may have committed the outcome anyway: when the next one finds the row already
        ended, the events the stored outcome lacks are published (`complete`)."""
        deadline = None if self.patience is None else time.monotonic() + self.patience
        tried = False
        while True:
            try:
                if await self._settle(record, observed, attempts, closing):
                    return True
                if tried:
                    stored = await self.records.repository.get(record.id)
                    if stored is not None and stored.status.final:
                        await self.complete(stored)
                return False
            except Exception as exc:
                dependency = unavailable(exc)
                if dependency is None or (deadline is not None and time.monotonic() > deadline):
                    raise
                if not tried:
                    log.warning(
                        "recording the outcome of %s waits for the %s (%s)",
                        record.id,
                        dependency,
                        exc,
                    )
                tried = True
                await asyncio.sleep(OUTAGE_RETRY_SECONDS)

    async def refuse(
        self, record: ExecutionRecord, error: dict[str, Any], *, committed: bool
    ) -> bool:
        """Fail a new execution that was never handed to the workers (distributed: the database
        or Redis failed its hand-over), without asking Redis: this process published all its
        events so far, so it numbers the closing ones itself (they wait in the bus's outbox
        while Redis is out). A `committed` record is ended by a compare-and-set, so False if a
        worker took it meanwhile; one the database did not take yet is written failed with the
        next batch that goes in."""
        observed, attempts = record.status, record.attempts
        record.transition(ExecutionStatus.FAILED)
        record.error = error
        closing = _closing(record)
        record.last_seq += len(closing) + 1
        if not committed:
            self.records.touch(record)
        elif not await self.records.commit(record, observed, attempts):
            return False
        self._announce(record, closing)
        return True

    def announce(self, record: ExecutionRecord) -> None:
        """Publish the closing events of a record made final outside a run (refused before it
        started, or replaced by its failed outcome when it could not be stored)."""
        self._announce(record, _closing(record))
        if not self.records.shared:
            self.records.touch(record)

    def _announce(self, record: ExecutionRecord, closing: list[tuple[str, Any]]) -> None:
        for event_type, data in closing:
            self.publish(record, event_type, data)
        self.publish(record, "status", _status_data(record), final=True)

    async def complete(self, record: ExecutionRecord) -> None:
        """Publish the closing events a final record's stream lacks: the process that committed
        the outcome died before publishing it (distributed mode)."""
        stored = await self.bus.last_seq(record.id)
        if stored >= record.last_seq:
            return
        closing = _closing(record)
        missing = record.last_seq - stored  # the last events, ending with the final status
        self._announce(record, closing[max(0, len(closing) + 1 - missing) :])
        await self.bus.flush()

    async def interrupt(self, record: ExecutionRecord, reason: str) -> bool:
        """End an execution stopped from outside: cancelled by a user, or failed by shutdown.
        False if it had already ended."""
        if reason == SHUTDOWN:
            error = {"type": "interrupted", "message": INTERRUPTED}
            return await self.finish(record, ExecutionStatus.FAILED, error=error)
        return await self.finish(record, ExecutionStatus.CANCELLED)

    def _metrics(self, workflow: str, status: str) -> tuple[Any, Any]:
        key = (workflow, status)
        children = self._children.get(key)
        if children is None:
            children = (EXECUTIONS.labels(workflow, status), EXECUTION_SECONDS.labels(workflow))
            self._children[key] = children
        return children


def _closing(record: ExecutionRecord) -> list[tuple[str, Any]]:
    """The events before the final `status` that tell a final record's outcome."""
    if record.status is ExecutionStatus.SUCCEEDED:
        return [("result", {"output": record.output, "artifacts": record.artifacts})]
    if record.error is not None:
        return [("error", record.error)]
    return []


# Event data is never changed once published, so a status without an error can share its dict.
_PLAIN_STATUS = {status: {"status": status.value} for status in ExecutionStatus}


def _status_data(record: ExecutionRecord) -> dict[str, Any]:
    if record.error is None:
        return _PLAIN_STATUS[record.status]
    return {"status": record.status.value, "error": record.error}


class _Sink:
    """Turns `ctx.progress` / `ctx.emit` into record updates and events."""

    __slots__ = ("publisher", "record")

    def __init__(self, publisher: Publisher, record: ExecutionRecord):
        self.publisher = publisher
        self.record = record

    def progress(self, fraction: float | None, message: str | None, step: str | None) -> None:
        record = self.record
        if record.status.final:
            return
        if message is not None:
            message = _text(message, "the progress message")
        if step is not None:
            step = _text(step, "the progress step")[:MAX_STEP_LENGTH]
        if fraction is not None:
            record.progress_fraction = fraction
        record.progress_message = message
        record.progress_step = step
        self.publisher.publish(
            record,
            "progress",
            {"fraction": record.progress_fraction, "message": message, "step": step},
        )
        self.publisher.records.touch(record)

    def emit(self, event_type: str, data: Any) -> None:
        if not self.record.status.final:
            encodable(data, f"a {event_type} event")
            self.publisher.publish(self.record, event_type, data)


class ExecutionRunner:
    def __init__(
        self,
        runnables: Runnables,
        records: ExecutionRecords,
        publisher: Publisher,
        files: FileService,
        *,
        default_timeout: float,
        cache: ResultCache | None = None,
        llm: LLMProvider | None = None,
    ):
        self.runnables = runnables
        self.records = records
        self.publisher = publisher
        self.files = files
        self.default_timeout = default_timeout
        self.cache = cache
        self.llm = llm
        self.chat: ChatTurns | None = None
        self.deadlines = Deadlines()

    def timeout_for(self, runnable: Runnable) -> float:
        return runnable.timeout or self.default_timeout

    async def abandon(self, job: Job, reason: str) -> None:
        record = await self.records.get(job.execution_id)
        if record is not None:
            await self.publisher.interrupt(record, reason)

    async def recover(self, job: Job, reason: str, *, max_attempts: int, cancelled: bool) -> bool:
        """Settle an execution whose worker died: cancelled if that was asked for, run again if
        its workflow is retry-safe and has attempts left (True: deliver the job again), else
        `failed` with the reason."""
        record = await self.records.get(job.execution_id)
        if record is None:
            return False
        if record.status.final:
            await self.publisher.complete(record)
            return False
        if cancelled:
            await self.publisher.finish(record, ExecutionStatus.CANCELLED)
            return False
        if record.status is ExecutionStatus.QUEUED:
            return True  # it never started: deliver it again
        runnable = lookup(self.runnables, job.kind, job.name)
        if runnable is not None and runnable.retry_safe and record.attempts < max_attempts:
            attempts = record.attempts
            record.requeue()
            if not await self.records.commit(record, ExecutionStatus.RUNNING, attempts):
                return False
            self.publisher.publish(
                record,
                "status",
                {"status": "queued", "redelivery": {"attempt": attempts + 1, "reason": reason}},
            )
            await self.publisher.bus.flush()  # before the next worker's events
            return True
        if runnable is not None and runnable.retry_safe:
            message = f"{reason}; it was not run again: all {max_attempts} attempts are used"
        else:
            message = f"{reason}; it was not run again: {job.name} is not marked retry_safe"
        await self.publisher.finish(
            record, ExecutionStatus.FAILED, error={"type": "worker_lost", "message": message}
        )
        return False

    async def never_started(self, before: datetime) -> list[str]:
        return await self.records.repository.never_started(before)

    async def fail_unqueued(self, execution_id: str, message: str) -> bool:
        record = await self.records.repository.get(execution_id)
        if record is None or record.status is not ExecutionStatus.QUEUED:
            return False
        error = {"type": "not_queued", "message": message}
        return await self.publisher.finish(record, ExecutionStatus.FAILED, error=error)

    async def _complete_if_final(self, execution_id: str) -> None:
        record = await self.records.get(execution_id)
        if record is not None and record.status.final:
            await self.publisher.complete(record)

    async def run(self, job: Job) -> None:
        record = await self.records.claim(job.execution_id)
        if record is None:  # cancelled before it started, or taken by another worker
            if self.records.shared:
                await self._complete_if_final(job.execution_id)
            return
        self.publisher.status(record)
        runnable = lookup(self.runnables, job.kind, job.name)
        if runnable is None:
            await self.publisher.finish(
                record,
                ExecutionStatus.FAILED,
                error={
                    "type": "unknown_workflow",
                    "message": f"{job.kind} {job.name!r} is not registered here",
                },
            )
            return
        files = ExecutionFiles(self.files, job.user, record.id)
        chat = runnable.mode == "chat"
        context = Context(
            execution_id=record.id,
            workflow=runnable.name,
            user=job.user,
            sink=_Sink(self.publisher, record),
            files=files,
            session_id=record.session_id,
            history=job.history,
            llm=MeteredLLM(self.llm) if self.llm is not None else None,
        )
        timeout = self.timeout_for(runnable)
        try:
            model: BaseModel = job.validated or runnable.input_model.model_validate(job.input)
            if chat:
                await self._open_turn(record, context)
            arguments = dict(model.__dict__)  # the fields (private attributes live elsewhere)
            for name in runnable.file_fields:
                arguments[name] = await _resolve_files(arguments[name], files)
            if runnable.context_param is not None:
                arguments[runnable.context_param] = context
            deadline = self.deadlines.limit(timeout)
            deadline.arm()
            try:
                if runnable.is_generator:
                    result = await self._collect(runnable, arguments, context)
                else:
                    result = await runnable.fn(**arguments)
            except BaseException as exc:
                if deadline.disarm(type(exc)):
                    raise _TimedOut from None
                raise
            deadline.disarm(None)
            output = _dump_output(runnable.output_model, result)
            encodable(output, "the output")
            if chat:
                await self._close_turn(record, context, output)
        except asyncio.CancelledError as cancelled:
            context.mark_cancelled()
            reason = cancel_reason(job, cancelled)
            if reason == HANDOVER:
                return  # left running, for the stopping worker to hand over (`recover`)
            await self.publisher.interrupt(record, reason)
            return
        except _TimedOut:
            message = f"timed out after {timeout:g} s"
            await self.publisher.finish(
                record, ExecutionStatus.FAILED, error={"type": "timeout", "message": message}
            )
            return
        except Exception as exc:
            await self.publisher.finish(
                record, ExecutionStatus.FAILED, error=_describe(exc, runnable)
            )
            return
        finally:
            record.artifacts = files.saved
            files.close()
        if await self.publisher.finish(record, ExecutionStatus.SUCCEEDED, output=output) and (
            self.cache is not None and runnable.cache and not files.saved and not chat
        ):
            key = result_key(runnable, job.user.id, model)
            await self.cache.set(key, output, self.cache.ttl(runnable))

    async def _open_turn(self, record: ExecutionRecord, context: Context) -> None:
        if record.session_id is not None and self.chat is not None:
            context.history, context.session = await self.chat.open_turn(record)
        self.publisher.publish(record, "typing", {"session_id": record.session_id})

    async def _close_turn(self, record: ExecutionRecord, context: Context, output: Any) -> None:
        """Store the reply (in a session) and announce the whole message with `complete`."""
        encodable(context.session, "the chat session's state")
        encodable(context.transcript, "the turn's tool messages")
        text = reply_text(output)
        llm = context.llm
        usage = llm.usage.as_dict() if isinstance(llm, MeteredLLM) and llm.calls else None
        data: dict[str, Any] = {"content": text, "role": "assistant", "usage": usage}
        if record.session_id is not None and self.chat is not None:
            data = await self.chat.close_turn(record, context, text, usage)
        self.publisher.publish(record, "complete", data)

    async def _collect(
        self, runnable: Runnable, arguments: dict[str, Any], context: Context
    ) -> Any:
        """Run a generator workflow: each item is emitted as it comes, and the output is them
        all (or their text)."""
        items: list[Any] = []
        async for item in runnable.fn(**arguments):
            dumped = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
            context.emit(dumped)
            items.append(item)
        return "".join(items) if runnable.concatenates_text else items


def _dump_output(model: type[BaseModel], result: Any) -> Any:
    """`model(result).model_dump(mode="json")` without the wrappers around pydantic-core. A
    value that validates but does not serialize (an unknown object in an `Any`, nesting past
    pydantic's limit) is `Unencodable`."""
    validated = model.__pydantic_validator__.validate_python(result)
    try:
        return model.__pydantic_serializer__.to_python(validated, mode="json")
    except (PydanticSerializationError, ValueError, RecursionError) as exc:
        raise jsoncodec.Unencodable(f"the output cannot be stored or sent: {exc}") from None


class _TimedOut(Exception):
    pass


def cancel_reason(job: Job, cancelled: asyncio.CancelledError) -> str:
    """Why a run was cancelled: the reason its executor gave (on the job, or as the message of
    the cancellation of the task it runs in, e.g. an agent's, for its nested tool calls); else
    the task's owner cancelled it (a request cut off as the server stops): a shutdown."""
    if job.cancel_reason is not None:
        return job.cancel_reason
    message = cancelled.args[0] if cancelled.args else None
    return message if message in REASONS else SHUTDOWN


async def _resolve_files(value: Any, files: ExecutionFiles) -> Any:
    if isinstance(value, File):
        return value if value.resolved else await files.resolve(value)
    if isinstance(value, list):
        return [await _resolve_files(item, files) for item in value]
    return value


def _describe(exc: Exception, runnable: Runnable) -> dict[str, Any]:
    unencodable = _unencodable(exc)
    if unencodable is not None:
        return {"type": UNENCODABLE, "message": unencodable}
    if isinstance(exc, WorkflowError):
        return {"type": "workflow_error", "message": str(exc)}
    if isinstance(exc, FileUnreadable):
        return {"type": "file_unreadable", "message": exc.detail}
    if isinstance(exc, ChatUnreadable):
        return {"type": "chat_unreadable", "message": exc.detail}
    dependency = unavailable(exc)
    if dependency is not None:  # not the workflow's fault: the run may be tried again
        return {"type": "unavailable", "message": f"the {dependency} was unavailable: {exc}"}
    if isinstance(exc, RuntimeProblem):
        return {"type": "invalid_input", "message": exc.detail}
    if isinstance(exc, ValidationError):
        # Either the stored input no longer matches (re-validated by a worker) or the output
        # does not match the declared return type: both are the workflow's contract failing.
        return {
            "type": "validation_error",
            "message": f"{runnable.name} broke its declared types: {exc.error_count()} error(s)",
            "errors": validation_errors(exc),
        }
    log.exception("execution of %s %s failed", runnable.kind, runnable.name, exc_info=exc)
    return {"type": "exception", "message": f"{type(exc).__name__}: {exc}"}


def _unencodable(exc: BaseException) -> str | None:
    """The reason, when `exc` (or what caused it, e.g. inside a database statement) is a value
    that JSON cannot hold."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, jsoncodec.Unencodable):
            return str(current)
        current = getattr(current, "orig", None) or current.__cause__
        seen += 1
    return None
