"""Server-Sent Events for every stream (executions, chat turns, agents): one envelope, ids that
`Last-Event-ID` resumes from, keep-alive comments, and a closing event when the server drains
(`reconnect`), or its store (Redis) is out (`reconnect`, after which the client resumes with
`Last-Event-ID`), or the client fell out of the replay log (`error`, type `lagged`).

A slow client only parks its own generator at a cursor into the bus's shared ring buffer (uvicorn
applies TCP flow control), so nothing grows per client; a vanished one is dropped when a
keep-alive write fails, or when a write has waited `realtime.send_timeout_seconds`.

Each stream holds one of its principal's stream slots (`stream_slot`, taken before the route
starts anything) until the response ends, however it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import HTTPConnection, Request
from starlette.types import Receive, Scope, Send

from nanobrain.core.user import User
from nanobrain.observability.metrics import STREAMS_REFUSED
from nanobrain.runtime.errors import InvalidInput
from nanobrain.runtime.events.base import Event, StreamLagged
from nanobrain.web.problems import ProblemError, outage
from nanobrain.web.responses import dumps
from nanobrain.web.state import AppState, app_state
from nanobrain.web.stream_caps import UNCOUNTED, StreamSlot, TooManyStreams

RECONNECT = "reconnect"
RETRY_MS = 1000
STREAM_RETRY_AFTER = "5"  # seconds: a refused stream may be asked for again once one closed
_refused_sse = STREAMS_REFUSED.labels("sse")
MAX_EVENT_ID = 10**18 - 1  # what `Last-Event-ID` and `after` may name (18 digits)


async def stream_slot(connection: HTTPConnection, user: User) -> StreamSlot:
    """One of `user`'s open-stream slots, or 429 past its role's cap. Take it before starting
    anything the stream would follow, so a refused request has no side effect; hand it to
    `event_stream` (or `release` it if the route fails before)."""
    try:
        return await app_state(connection).stream_caps.open(user)
    except TooManyStreams as exc:
        _refused_sse.inc()
        raise ProblemError(429, str(exc), headers={"Retry-After": STREAM_RETRY_AFTER}) from None


def resume_point(request: Request, after: int | None = None) -> int:
    """Where to resume: `Last-Event-ID` (a reconnecting EventSource), else `after` (the route's
    validated `?after=`; read from the query when the route does not declare it), else 0."""
    header = request.headers.get("last-event-id")
    if header is not None:  # isascii: str.isdigit() also takes digits int() does not ('²')
        if not _is_event_id(header):
            raise ProblemError(400, "Last-Event-ID must be an event id (a non-negative integer)")
        return int(header)
    if after is not None:
        return after
    given = request.query_params.get("after")
    if given is None:
        return 0
    if not _is_event_id(given):
        raise InvalidInput(
            "`after` must be an event id",
            [{"loc": ["query", "after"], "msg": "must be a non-negative integer", "type": "int"}],
        )
    return int(given)


def _is_event_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= len(str(MAX_EVENT_ID))


def lagged_data(exc: StreamLagged) -> dict[str, object]:
    return {
        "type": "lagged",
        "message": f"this client fell behind and {exc}; fetch the outcome from the status and "
        "results endpoints",
        "first_available": exc.first_kept,
    }


def draining_data() -> dict[str, object]:
    return {"reason": "the server is shutting down", "retry_ms": RETRY_MS}


def sse_frame(event: Event) -> bytes:
    """The event as an SSE frame (one `data:` line: JSON holds no raw newline), encoded once
    however many clients follow the stream."""
    frame = event.sse
    if frame is None:
        frame = event.sse = b"id: %d\r\nevent: %s\r\ndata: %s\r\n\r\n" % (
            event.seq,
            event.type.encode(),
            dumps(event.envelope()),
        )
    return frame


async def _encode(
    batches: AsyncIterator[list[Event]], state: AppState
) -> AsyncIterator[bytes | ServerSentEvent]:
    """Each batch of events the bus has ready goes out as one write: a client that fell behind
    catches up in a few writes, not one per event."""
    state.stream_opened()
    last: Event | None = None
    try:
        try:
            async for batch in batches:
                last = batch[-1]
                yield sse_frame(last) if len(batch) == 1 else b"".join(map(sse_frame, batch))
        except StreamLagged as exc:
            # No `id:`: the client's Last-Event-ID stays at the last event it really received.
            yield ServerSentEvent(data=dumps(lagged_data(exc)).decode(), event="error")
            return
        except Exception as exc:  # the bus's store is out: come back with Last-Event-ID
            described = outage(exc)
            if described is None:
                raise
            retry_ms = described["retry_after"] * 1000
            data = {"reason": described["detail"], "dependency": described["dependency"]}
            yield ServerSentEvent(
                data=dumps({**data, "retry_ms": retry_ms}).decode(), event=RECONNECT, retry=retry_ms
            )
            return
        if (last is None or not last.final) and state.executions.bus.interrupted:
            yield ServerSentEvent(
                data=dumps(draining_data()).decode(), event=RECONNECT, retry=RETRY_MS
            )
    finally:
        state.stream_closed()


class CountedEventSource(EventSourceResponse):
    """An SSE response that gives its stream slot back when it ends, however it ends."""

    def __init__(self, *args: Any, slot: StreamSlot = UNCOUNTED, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


def event_stream(
    request: Request,
    batches: AsyncIterator[list[Event]],
    headers: dict[str, str] | None = None,
    slot: StreamSlot = UNCOUNTED,
) -> EventSourceResponse:
    """The SSE response for the event `batches` (`ExecutionService.event_batches`), holding
    `slot` (`stream_slot`) while it lasts."""
    state = app_state(request)
    realtime = state.settings.realtime
    return CountedEventSource(
        _encode(batches, state),
        slot=slot,
        ping=realtime.sse_ping_seconds,
        # A client that takes no bytes for this long (gone without closing, or stalled) is
        # dropped: it can resume with Last-Event-ID, and its connection is freed meanwhile.
        send_timeout=realtime.send_timeout_seconds,
        shutdown_grace_period=realtime.drain_seconds,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
