"""Runs one execution to a final state: the only place a workflow's code is called.

Every way of running (local tasks, distributed workers) goes through `ExecutionRunner.run`, so the
state machine, the events and the record are the same whatever the executor.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Protocol

import orjson
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from nanobrain.core import jsoncodec
from nanobrain.core.context import Context
from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.spec import Runnable
from nanobrain.core.types import File
from nanobrain.llm.base import LLMProvider, MeteredLLM
from nanobrain.runtime.cache import ResultCache, result_key
from nanobrain.runtime.deadlines import Deadlines
from nanobrain.runtime.executors.base import HANDOVER, Job
from nanobrain.runtime.failure import cancel_reason, describe_failure
from nanobrain.runtime.files import ExecutionFiles, FileService
from nanobrain.runtime.lookups import Runnables, lookup
from nanobrain.runtime.records.base import ExecutionRecords
from nanobrain.runtime.sink import ExecutionSink, encodable

log = logging.getLogger(__name__)


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


class ExecutionRunner:
    def __init__(
        self,
        runnables: Runnables,
        records: ExecutionRecords,
        files: FileService,
        *,
        default_timeout: float,
        cache: ResultCache | None = None,
        llm: LLMProvider | None = None,
    ):
        self.runnables = runnables
        self.records = records
        self.publisher = records.publisher
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
            await self.records.interrupt(record, reason)

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
            await self.records.finish(record, ExecutionStatus.CANCELLED)
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
        await self.records.finish(
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
        return await self.records.finish(record, ExecutionStatus.FAILED, error=error)

    async def run(self, job: Job) -> ExecutionRecord | None:
        record = await self.records.claim(job.execution_id)
        if record is None:  # cancelled before it started, or taken by another worker
            return None
        self.records.status(record)
        runnable = lookup(self.runnables, job.kind, job.name)
        if runnable is None:
            await self.records.finish(
                record,
                ExecutionStatus.FAILED,
                error={
                    "type": "unknown_workflow",
                    "message": f"{job.kind} {job.name!r} is not registered here",
                },
            )
            return record
        files = ExecutionFiles(self.files, job.user, record.id)
        chat = runnable.mode == "chat"
        context = Context(
            execution_id=record.id,
            workflow=runnable.name,
            user=job.user,
            sink=ExecutionSink(self.records, record),
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
                return record  # left running, for the stopping worker to hand over (`recover`)
            await self.records.interrupt(record, reason)
            return record
        except _TimedOut:
            message = f"timed out after {timeout:g} s"
            await self.records.finish(
                record, ExecutionStatus.FAILED, error={"type": "timeout", "message": message}
            )
            return record
        except Exception as exc:
            await self.records.finish(
                record, ExecutionStatus.FAILED, error=describe_failure(exc, runnable)
            )
            return record
        finally:
            record.artifacts = files.saved
            files.close()
        if await self.records.finish(record, ExecutionStatus.SUCCEEDED, output=output) and (
            self.cache is not None and runnable.cache and not files.saved and not chat
        ):
            key = result_key(runnable, job.user.id, model)
            await self.cache.set(key, output, self.cache.ttl(runnable))
        return record

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


async def _resolve_files(value: Any, files: ExecutionFiles) -> Any:
    if isinstance(value, File):
        return value if value.resolved else await files.resolve(value)
    if isinstance(value, list):
        return [await _resolve_files(item, files) for item in value]
    return value
