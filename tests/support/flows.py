"""Workflows that exercise the runtime's edge cases in tests (failures, timeouts, streams)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

from pydantic import BaseModel

from nanobrain import Context, File, WorkflowError, workflow


class Count(BaseModel):
    count: int


class Token(BaseModel):
    token: str
    pid: int  # the process that ran it


@workflow(tags=["test"])
async def boom(ctx: Context) -> Count:
    """Raises an unexpected exception."""
    raise ValueError("kaboom")


@workflow(tags=["test"])
async def refuse(ctx: Context, reason: str = "no") -> Count:
    """Fails with a message for the user."""
    raise WorkflowError(f"refused: {reason}")


@workflow(tags=["test"], timeout=0.5, mode="job")
async def sleepy(ctx: Context, seconds: float = 5.0) -> Count:
    """Sleeps past its own timeout."""
    await asyncio.sleep(seconds)
    return Count(count=1)


@workflow(tags=["test"])
async def countdown(ctx: Context, n: int = 5, delay: float = 0.0) -> AsyncIterator[str]:
    """Streams n chunks."""
    for i in range(n, 0, -1):
        await asyncio.sleep(delay)
        yield f"{i} "


@workflow(tags=["test"])
async def make_file(ctx: Context, text: str = "hello") -> File:
    """Saves an artifact and returns it."""
    return await ctx.files.save("greeting.txt", text.encode(), "text/plain")


@workflow(tags=["test"])
async def wrong_output(ctx: Context) -> Count:
    """Returns something that is not its declared type."""
    return "not a count"  # type: ignore[return-value]


@workflow(tags=["test"], roles=["developer"])
async def developers_only(ctx: Context) -> Count:
    """Narrowed to developers (and admins)."""
    return Count(count=ctx.user.role == "admin")


@workflow(tags=["test"])
async def read_upload(ctx: Context, upload: File, more: list[File] | None = None) -> Count:
    """Counts the bytes of uploaded files."""
    files = [upload, *(more or [])]
    return Count(count=sum(len(file.read_bytes()) for file in files))


@workflow(tags=["test"], mode="job", retry_safe=True)
async def steady(ctx: Context, token: str = "", seconds: float = 0.1) -> Token:
    """Sleeps, then returns its token: safe to run again if its worker dies."""
    ctx.progress(0.0, f"pid {os.getpid()}")
    await asyncio.sleep(seconds)
    return Token(token=token, pid=os.getpid())


@workflow(tags=["test"], mode="job")
async def fragile(ctx: Context, seconds: float = 5.0) -> Token:
    """Sleeps, then answers: not safe to run twice."""
    ctx.progress(0.0, f"pid {os.getpid()}")
    await asyncio.sleep(seconds)
    return Token(token="", pid=os.getpid())


@workflow(tags=["test"], cache=True)
async def lucky(ctx: Context, seed: int = 0) -> Count:
    """A fresh random number each run: shows whether an output came from the cache."""
    return Count(count=int.from_bytes(os.urandom(6), "big") + seed)


@workflow(tags=["test"], mode="chat")
async def parrot(ctx: Context, message: str) -> AsyncIterator[str]:
    """Says which turn this is and how much history it sees, then repeats the message."""
    ctx.session["turns"] = ctx.session.get("turns", 0) + 1
    yield f"turn {ctx.session['turns']} (history {len(ctx.history)}):"
    for word in message.split():
        await asyncio.sleep(0)
        yield f" {word}"


@workflow(tags=["test"])
async def flood(ctx: Context, n: int = 100_000, size: int = 100, delay: float = 0.0) -> Count:
    """After `delay` seconds, emits `n` chunks of `size` characters as fast as it can."""
    await asyncio.sleep(delay)
    chunk = "x" * size
    for index in range(n):
        ctx.emit(chunk)
        if index % 1000 == 0:
            await asyncio.sleep(0)
    return Count(count=n)


class Peek(BaseModel):
    path: str
    sha256: str


@workflow(tags=["test"], mode="job")
async def hold_upload(ctx: Context, upload: File, seconds: float = 0.0, fail: bool = False) -> Peek:
    """Reads an uploaded file, reports the path it read (as progress), holds on to it for
    `seconds`, then fails if asked."""
    data = await asyncio.to_thread(upload.read_bytes)
    ctx.progress(0.5, str(upload.path))
    await asyncio.sleep(seconds)
    if fail:
        raise WorkflowError("failed as asked")
    return Peek(path=str(upload.path), sha256=hashlib.sha256(data).hexdigest())
