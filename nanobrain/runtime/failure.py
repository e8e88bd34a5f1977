"""What a run's failure is called in its `error`, and why a cancelled run was cancelled."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError

from nanobrain.core import jsoncodec
from nanobrain.core.errors import WorkflowError
from nanobrain.core.spec import Runnable
from nanobrain.runtime.errors import (
    ChatUnreadable,
    FileUnreadable,
    RuntimeProblem,
    validation_errors,
)
from nanobrain.runtime.executors.base import REASONS, SHUTDOWN, Job
from nanobrain.runtime.outages import unavailable

log = logging.getLogger(__name__)
UNENCODABLE = "unencodable_output"


def describe_failure(exc: Exception, runnable: Runnable) -> dict[str, Any]:
    """The `error` of a run that raised `exc`."""
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


def cancel_reason(job: Job, cancelled: asyncio.CancelledError) -> str:
    """Why a run was cancelled: the reason its executor gave (on the job, or as the message of
    the cancellation of the task it runs in, e.g. an agent's, for its nested tool calls); else
    the task's owner cancelled it (a request cut off as the server stops): a shutdown."""
    if job.cancel_reason is not None:
        return job.cancel_reason
    message = cancelled.args[0] if cancelled.args else None
    return message if message in REASONS else SHUTDOWN
