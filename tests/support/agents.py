"""An agent and its tool for the LLM tests (kept apart so other tests see the usual catalog)."""

from __future__ import annotations

from nanobrain import Agent, tool


@tool(tags=["test"])
async def square(n: int) -> int:
    """The square of an integer."""
    return n * n


squarer = Agent(
    name="squarer",
    description="Squares numbers with its tool.",
    instructions="Square the number the user gives with the square tool.",
    tools=("square",),
    tool_choice="square",
    max_steps=2,
)
