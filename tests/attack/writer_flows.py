"""Workflows that hand the runtime values JSON allows but orjson does not take (integers past 64
bits), and values that nothing can store or send (the writer isolation tests)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from nanobrain import Context, workflow

Unencodable = Literal["surrogate", "deep", "object", "event", "progress"]


@workflow(tags=["test"])
async def mirror(ctx: Context, value: Any = None) -> Any:
    """Returns what it is given, as it is given."""
    return value


@workflow(tags=["test"])
async def power_of_two(ctx: Context, exponent: int = 64, negative: bool = False) -> int:
    """A bare integer as the whole output: 2 ** exponent, negated if asked."""
    return -(2**exponent) if negative else 2**exponent


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"down": value}
    return value


@workflow(tags=["test"])
async def unencodable(ctx: Context, kind: Unencodable = "surrogate") -> dict[str, Any]:
    """Produces something no JSON encoder takes: in its output, an event, its progress."""
    await asyncio.sleep(0)
    if kind == "event":
        ctx.emit({"handle": object()})
    elif kind == "progress":
        ctx.progress(0.5, "half \udc80 way")
    if kind == "surrogate":
        return {"text": "lone \ud800 surrogate"}
    if kind == "deep":
        return _nested(300)
    if kind == "object":
        return {"handle": object()}
    return {"kind": kind}


@workflow(tags=["test"], mode="chat")
async def keeper(ctx: Context, message: str) -> str:
    """Keeps a counter past 64 bits in the session's state; `unstorable` puts in something no
    store can hold."""
    ctx.session["counter"] = ctx.session.get("counter", 2**80) + 1
    if message == "unstorable":
        ctx.session["handle"] = object()
    return f"counter {ctx.session['counter']}"


@workflow(tags=["test"], mode="job")
async def nul_progress(ctx: Context, seconds: float = 1.0) -> dict[str, Any]:
    """Reports progress with a NUL character (PostgreSQL's text cannot hold it), then works on."""
    ctx.progress(0.5, "nul \x00 byte")
    await asyncio.sleep(seconds)
    return {"done": True}
