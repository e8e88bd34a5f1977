"""The event bus: numbered, replayable event streams, one per execution or chat session."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = frozenset(
    {
        "status", "progress", "typing", "chunk", "result", "complete", "error", "log",
        "tool_call", "tool_result",
    }
)  # fmt: skip


class StreamLagged(Exception):
    """A subscriber fell further behind than the replay log reaches: the events after `after`
    up to `first_kept - 1` are gone, so continuing would leave a gap."""

    def __init__(self, stream: str, after: int, first_kept: int):
        super().__init__(
            f"events {after + 1}..{first_kept - 1} of {stream} are no longer held for replay"
        )
        self.stream = stream
        self.after = after
        self.first_kept = first_kept


@dataclass(slots=True)
class Event:
    """One event. `seq` increases by one within its stream; `id` is what clients resume from."""

    stream: str
    seq: int
    type: str
    data: Any
    ts: float
    final: bool = False
    execution_id: str | None = None
    session_id: str | None = None
    sse: bytes | None = None  # the SSE frame, made once for every subscriber (`sse_frame`)

    @property
    def id(self) -> str:
        return str(self.seq)

    def envelope(self) -> dict[str, Any]:
        """The wire format shared by SSE and WebSocket."""
        return {
            "id": self.id,
            "type": self.type,
            "execution_id": self.execution_id,
            "session_id": self.session_id,
            "seq": self.seq,
            "ts": datetime.fromtimestamp(self.ts, UTC).isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }


class EventBus(ABC):
    """Publishing never blocks the publisher; subscribers replay, then follow, then stop at the
    stream's final event. Implementations bound memory per stream and expire finished streams."""

    @abstractmethod
    def publish(
        self,
        stream: str,
        event_type: str,
        data: Any,
        *,
        final: bool = False,
        execution_id: str | None = None,
        session_id: str | None = None,
    ) -> Event:
        """Append an event to `stream` and wake its subscribers."""

    @abstractmethod
    def subscribe(self, stream: str, after: int = 0) -> AsyncGenerator[Event, None]:
        """Events of `stream` with seq > `after`, live, ending after the final event. Raises
        StreamLagged when some of them are no longer held, and ends early (after what it holds)
        once the bus is interrupted."""

    async def subscribe_batches(
        self, stream: str, after: int = 0
    ) -> AsyncGenerator[list[Event], None]:
        """`subscribe`, as lists of the events already there when the subscriber gets to them,
        so that a subscriber that fell behind catches up in a few writes instead of one per
        event. This default yields one event at a time."""
        async for event in self.subscribe(stream, after):
            yield [event]

    @abstractmethod
    async def known(self, stream: str) -> bool:
        """Whether the bus still holds this stream (it may have expired or predate a restart)."""

    @abstractmethod
    async def last_seq(self, stream: str) -> int:
        """The seq of the stream's last event (0 if none), counting everything published by any
        process; publishing here continues after it."""

    async def flush(self) -> None:  # noqa: B027 - a bus that stores synchronously has nothing to do
        """Return once every event published so far by this process is stored."""

    @abstractmethod
    def interrupt(self) -> None:
        """End every live subscription now (the server is draining); publishing goes on."""

    @property
    @abstractmethod
    def interrupted(self) -> bool: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass
