"""What replaces a record the database refuses for what it holds: its execution's failed outcome,
without the values that cannot be stored, and a description of why that quotes none of them."""

from __future__ import annotations

import dataclasses
from typing import Any

from nanobrain.core import jsoncodec
from nanobrain.core.clock import utcnow
from nanobrain.core.execution import ExecutionRecord, ExecutionStatus

UNWRITABLE = "unwritable_record"
_JSON_FIELDS = ("input", "output", "error", "artifacts")
_TEXT_FIELDS = ("progress_message", "progress_step", "routed_from")


def describe_error(error: BaseException) -> str:
    """The error's class and, for the driver's own message, its first line (a SQL error's full
    text quotes parameters, which may be user data or secrets)."""
    orig = getattr(error, "orig", None)
    if orig is not None:
        first = str(orig).splitlines()[0][:200] if str(orig) else ""
        return f"{type(error).__name__}: {first}" if first else type(error).__name__
    return type(error).__name__


def unwritable_reason(record: ExecutionRecord, error: Exception) -> str:
    """Which of the record's values cannot be stored, and why, without quoting them."""
    reasons = []
    for name in _JSON_FIELDS:
        try:
            jsoncodec.check(getattr(record, name))
        except jsoncodec.Unencodable as exc:
            reasons.append(f"its {name}: {exc}")
    for name in _TEXT_FIELDS:
        if not _storable_text(getattr(record, name)):
            reasons.append(f"its {name.replace('_', ' ')} is not valid text")
    if reasons:
        return "; ".join(reasons)
    return f"the database refused it ({type(error).__name__})"


def _storable_text(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in value  # PostgreSQL's text cannot hold NUL


def failed_copy(record: ExecutionRecord, reason: str, *, keep_input: bool) -> ExecutionRecord:
    """The execution's failed outcome, without the values that may not be storable."""
    keep = keep_input
    if keep:
        try:
            jsoncodec.check(record.input)
        except jsoncodec.Unencodable:
            keep = False
    return dataclasses.replace(
        record,
        status=ExecutionStatus.FAILED,
        input=record.input if keep else None,
        output=None,
        error={
            "type": UNWRITABLE,
            "message": f"the execution's record could not be stored: {reason}; the execution "
            "is recorded as failed instead",
        },
        artifacts=[],
        progress_message=None,
        progress_step=None,
        routed_from=record.routed_from if keep and _storable_text(record.routed_from) else None,
        finished_at=record.finished_at if record.status.final else utcnow(),
    )
