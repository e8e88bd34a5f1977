"""How a final record's outcome is told as events: the one definition, used when a run ends and
when a stream the bus no longer holds is rebuilt from the stored record."""

from __future__ import annotations

from typing import Any

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus

INTERRUPTED = "interrupted: the server stopped while this execution was running"

# Event data is never changed once published, so a status without an error can share its dict.
_PLAIN_STATUS = {status: {"status": status.value} for status in ExecutionStatus}


def status_data(record: ExecutionRecord) -> dict[str, Any]:
    """The data of a `status` event for the record as it is now."""
    if record.error is None:
        return _PLAIN_STATUS[record.status]
    return {"status": record.status.value, "error": record.error}


def closing_events(record: ExecutionRecord) -> list[tuple[str, Any]]:
    """The events that end a final record's stream, as (type, data): `result` or `error` (when
    there is one), then the final `status`."""
    if record.status is ExecutionStatus.SUCCEEDED:
        result = {"output": record.output, "artifacts": record.artifacts}
        return [("result", result), ("status", status_data(record))]
    if record.error is not None:
        return [("error", record.error), ("status", status_data(record))]
    return [("status", status_data(record))]
