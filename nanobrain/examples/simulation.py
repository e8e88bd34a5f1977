"""A long-running, cancellable simulation: a Monte Carlo estimate of pi."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Annotated

from pydantic import BaseModel, Field

from nanobrain.core import Context, Table, workflow

POINTS_PER_STEP = 1_000


class SimulationResult(BaseModel):
    """The final estimate and how it converged, step by step."""

    steps_completed: int
    points: int
    estimate: float
    error: float
    trace: Table


@workflow(
    name="simulation",
    tags=["simulation", "custom", "long-running"],
    mode="job",
    retry_safe=True,
    examples=["run a Monte Carlo simulation", "estimate pi by random sampling"],
)
async def simulation(
    ctx: Context,
    steps: Annotated[int, Field(ge=1, le=10_000, description="Number of steps")] = 10,
    step_seconds: Annotated[float, Field(ge=0, le=60, description="Pause after each step")] = 0.5,
    seed: Annotated[int, Field(description="Random seed")] = 0,
) -> SimulationResult:
    """Estimate pi by throwing random points at a square, reporting progress after every step.

    Each step adds 1,000 points and waits `step_seconds`, so you can watch it converge and cancel
    it at any time. The same `seed` always gives the same result.
    """
    rng = random.Random(seed)
    inside = total = 0
    estimate = 0.0
    trace: list[dict[str, float | int]] = []
    for i in range(steps):
        for _ in range(POINTS_PER_STEP):
            x, y = rng.random(), rng.random()
            inside += x * x + y * y <= 1.0
        total += POINTS_PER_STEP
        estimate = 4 * inside / total
        trace.append({"step": i + 1, "points": total, "estimate": estimate})
        ctx.progress((i + 1) / steps, f"step {i + 1}/{steps}", step=f"step-{i + 1}")
        await asyncio.sleep(step_seconds)  # also the point where cancellation lands
    return SimulationResult(
        steps_completed=steps,
        points=total,
        estimate=estimate,
        error=abs(estimate - math.pi),
        trace=Table.from_records(trace, title="Estimate per step"),
    )
