"""Publishes an execution's events and keeps its record's `last_seq` in step."""

from __future__ import annotations

from typing import Any

from nanobrain.core.execution import ExecutionRecord
from nanobrain.observability.metrics import EXECUTION_SECONDS, EXECUTIONS
from nanobrain.runtime.closing import closing_events, status_data
from nanobrain.runtime.events.base import EventBus


class Publisher:
    def __init__(self, bus: EventBus):
        self.bus = bus
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
        """Publish the record's state (final when it is)."""
        self.publish(record, "status", status_data(record), final=record.status.final)

    def announce(self, record: ExecutionRecord, events: list[tuple[str, Any]]) -> None:
        """Publish closing events (`closing_events`, or the last of them): the `status` among
        them is the last, and ends the stream."""
        for event_type, data in events:
            self.publish(record, event_type, data, final=event_type == "status")

    async def complete(self, record: ExecutionRecord) -> None:
        """Publish the closing events a final record's stream lacks: the process that committed
        the outcome died before publishing it (distributed mode)."""
        stored = await self.bus.last_seq(record.id)
        if stored >= record.last_seq:
            return
        events = closing_events(record)
        missing = record.last_seq - stored  # the last events, ending with the final status
        self.announce(record, events[max(0, len(events) - missing) :])
        await self.bus.flush()

    def count(self, record: ExecutionRecord) -> None:
        """The metrics of an outcome just recorded."""
        key = (record.workflow, record.status.value)
        children = self._children.get(key)
        if children is None:
            children = (EXECUTIONS.labels(*key), EXECUTION_SECONDS.labels(record.workflow))
            self._children[key] = children
        counter, durations = children
        counter.inc()
        if record.started_at is not None and record.finished_at is not None:
            durations.observe((record.finished_at - record.started_at).total_seconds())
