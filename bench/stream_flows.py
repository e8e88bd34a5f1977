"""The workflow the streaming benchmark runs: `n` chunks at `rate` per second."""

from __future__ import annotations

import asyncio

from nanobrain import Context, workflow


@workflow(tags=["bench"])
async def ticker(ctx: Context, n: int = 500, rate: float = 100.0) -> int:
    """Emit `n` chunks paced at `rate` per second (drift-corrected)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(n):
        ctx.emit(index)
        await asyncio.sleep(max(0.0, start + (index + 1) / rate - loop.time()))
    return n
