"""An assistant that answers everyday lab questions with the example tools."""

from __future__ import annotations

from nanobrain.core import Agent

lab_assistant = Agent(
    name="lab-assistant",
    description="A lab assistant: reverse complements, GC content and unit conversions.",
    instructions=(
        "You help scientists with quick lab calculations. Use the reverse-complement and "
        "gc-content tools for DNA sequences and convert-units for lengths, masses and "
        "temperatures; never compute these yourself. Report results with their units, and if a "
        "tool reports an error, explain it plainly and ask for corrected input."
    ),
    tools=("reverse-complement", "gc-content", "convert-units"),
)
