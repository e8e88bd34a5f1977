"""An execution's events for a reader: from the bus while it holds them, else (expired, or from
before a restart) the outcome rebuilt from the durable record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from nanobrain.core.execution import ExecutionRecord
from nanobrain.runtime.closing import closing_events
from nanobrain.runtime.events.base import Event, EventBus


async def event_batches(
    bus: EventBus, record: ExecutionRecord, after: int
) -> AsyncIterator[list[Event]]:
    """The execution's events after `after`, as lists of the events that are there at once (see
    `subscribe_batches`)."""
    if not record.status.final or await bus.known(record.id):
        async for batch in bus.subscribe_batches(record.id, after):
            yield batch
        return
    rebuilt = [event for event in events_from_record(record) if event.seq > after]
    if rebuilt:
        yield rebuilt


def events_from_record(record: ExecutionRecord) -> list[Event]:
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
    events = closing_events(record)
    first = last - len(events) + 1
    return [
        Event(seq=first + index, type=event_type, data=data, final=event_type == "status", **common)
        for index, (event_type, data) in enumerate(events)
    ]
