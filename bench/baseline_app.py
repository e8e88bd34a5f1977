"""The bare-Starlette baseline for bench/run.py: the same wire work as NanoBrain, nothing else.

`POST /execute` parses the JSON body with orjson and answers with an object shaped (and sized)
like NanoBrain's `wait=true` reply; `GET /events?n=4` streams `n` events shaped like NanoBrain's
event envelopes through sse-starlette, then ends; `GET /ticks?n=500&rate=100` streams `n` chunk
envelopes paced at `rate` per second (bench/streaming.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_OPTIONS = orjson.OPT_UTC_Z


def _links(execution_id: str) -> dict[str, str]:
    base = f"/api/v1/workflows/{execution_id}"
    return {name: f"{base}/{name}" for name in ("status", "results", "events", "cancel")}


async def execute(request: Request) -> Response:
    body = orjson.loads(await request.body())
    execution_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    reply = {
        "execution_id": execution_id,
        "workflow": body.get("workflow"),
        "status": "succeeded",
        "progress": {"fraction": 1.0, "message": None, "step": None},
        "created_at": now,
        "started_at": now,
        "finished_at": now,
        "error": None,
        "session_id": None,
        "output": body.get("input"),
        "links": _links(execution_id),
    }
    return Response(orjson.dumps(reply, option=_OPTIONS), media_type="application/json")


def _event(seq: int, n: int) -> tuple[str, dict[str, Any]]:
    """NanoBrain's sequence for a finished run: queued, running..., result, succeeded."""
    if seq == n:
        return "status", {"status": "succeeded"}
    if seq == n - 1:
        return "result", {"output": {"message": "hi"}, "artifacts": []}
    return "status", {"status": "queued" if seq == 1 else "running"}


async def _stream(n: int) -> AsyncIterator[ServerSentEvent]:
    execution_id = uuid.uuid4().hex
    for seq in range(1, n + 1):
        kind, data = _event(seq, n)
        envelope = {
            "id": str(seq),
            "type": kind,
            "execution_id": execution_id,
            "session_id": None,
            "seq": seq,
            "ts": datetime.now(UTC),
            "data": data,
        }
        yield ServerSentEvent(
            data=orjson.dumps(envelope, option=_OPTIONS).decode(), event=kind, id=str(seq)
        )


async def events(request: Request) -> EventSourceResponse:
    n = int(request.query_params.get("n", "4"))
    return EventSourceResponse(_stream(n), ping=15, headers={"Cache-Control": "no-store"})


async def _ticks(n: int, rate: float) -> AsyncIterator[ServerSentEvent]:
    """`n` chunk envelopes paced at `rate` per second, as the streaming benchmark's workflow."""
    execution_id = uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    start = loop.time()
    for seq in range(1, n + 1):
        envelope = {
            "id": str(seq),
            "type": "chunk",
            "execution_id": execution_id,
            "session_id": None,
            "seq": seq,
            "ts": datetime.now(UTC),
            "data": {"delta": seq - 1},
        }
        yield ServerSentEvent(
            data=orjson.dumps(envelope, option=_OPTIONS).decode(), event="chunk", id=str(seq)
        )
        await asyncio.sleep(max(0.0, start + seq / rate - loop.time()))


async def ticks(request: Request) -> EventSourceResponse:
    n = int(request.query_params.get("n", "500"))
    rate = float(request.query_params.get("rate", "100"))
    return EventSourceResponse(_ticks(n, rate), ping=15, headers={"Cache-Control": "no-store"})


app = Starlette(
    routes=[
        Route("/execute", execute, methods=["POST"]),
        Route("/events", events),
        Route("/ticks", ticks),
    ]
)
