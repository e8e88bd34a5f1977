"""Where a running workflow's `ctx.progress` and `ctx.emit` go: record updates and events, each
checked to be storable and sendable before it leaves."""

from __future__ import annotations

from typing import Any

from nanobrain.core import jsoncodec
from nanobrain.core.execution import ExecutionRecord
from nanobrain.runtime.records.base import ExecutionRecords

MAX_STEP_LENGTH = 200  # the column's width


def encodable(value: Any, what: str) -> None:
    """Raise `Unencodable` naming `what` unless `value` can be stored and sent as JSON: such a
    value fails its own execution here, not a write or a stream later for everyone."""
    try:
        jsoncodec.check(value)
    except jsoncodec.Unencodable as exc:
        raise jsoncodec.Unencodable(f"{what} cannot be stored or sent: {exc}") from None


def storable_text(value: Any, what: str) -> str:
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


class ExecutionSink:
    """Turns `ctx.progress` / `ctx.emit` into record updates and events."""

    __slots__ = ("record", "records")

    def __init__(self, records: ExecutionRecords, record: ExecutionRecord):
        self.records = records
        self.record = record

    def progress(self, fraction: float | None, message: str | None, step: str | None) -> None:
        record = self.record
        if record.status.final:
            return
        if message is not None:
            message = storable_text(message, "the progress message")
        if step is not None:
            step = storable_text(step, "the progress step")[:MAX_STEP_LENGTH]
        if fraction is not None:
            record.progress_fraction = fraction
        record.progress_message = message
        record.progress_step = step
        self.records.publisher.publish(
            record,
            "progress",
            {"fraction": record.progress_fraction, "message": message, "step": step},
        )
        self.records.touch(record)

    def emit(self, event_type: str, data: Any) -> None:
        if not self.record.status.final:
            encodable(data, f"a {event_type} event")
            self.records.publisher.publish(self.record, event_type, data)
