"""Admission: a request to run becomes a new execution (checked, validated, recorded, its first
event published) and the job an executor runs, or is answered from the result cache."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.core.ids import new_id
from nanobrain.core.spec import Runnable
from nanobrain.core.types import File
from nanobrain.core.user import User
from nanobrain.runtime.cache import ResultCache, result_key
from nanobrain.runtime.errors import Forbidden, InvalidInput, NotFound, validation_errors
from nanobrain.runtime.executors.base import Job
from nanobrain.runtime.files import FileService
from nanobrain.runtime.records.base import ExecutionRecords

# Raises unless the user may add a turn to the chat session (ChatService installs it).
SessionCheck = Callable[[str, User], Awaitable[None]]


class Admission:
    def __init__(
        self, records: ExecutionRecords, files: FileService, cache: ResultCache | None = None
    ):
        self.records = records
        self.files = files
        self.cache = cache
        # Who may add to a chat session an execution names: set by the ChatService.
        self.session_check: SessionCheck | None = None

    async def accept(
        self,
        runnable: Runnable,
        raw_input: Any,
        user: User,
        *,
        session_id: str | None = None,
        request_id: str | None = None,
        routed_from: str | None = None,
        execution_id: str | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> tuple[ExecutionRecord, Job | None]:
        """The new execution's record (added to the records store, `queued` published) and its
        job; no job when the cache answered it (the record is then final)."""
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
        self.records.status(record)
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
        self.records.status(record)
        record.transition(ExecutionStatus.SUCCEEDED)
        record.output = output
        record.progress_fraction = 1.0
        self.records.publisher.publish(
            record, "result", {"output": output, "artifacts": [], "cached": True}
        )
        self.records.status(record)

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
