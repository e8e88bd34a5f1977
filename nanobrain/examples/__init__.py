"""Example workflows, tools and an agent; load `nanobrain.examples` into a server to try them.

The registry scans this module's attributes, so everything to register is re-exported here.
Sample inputs live in `data/` (see `DATA_DIR`).
"""

from pathlib import Path

from nanobrain.examples.agents import lab_assistant
from nanobrain.examples.bioinformatics import (
    OpenReadingFrame,
    SequenceRecordResult,
    SequenceReport,
    sequence_analysis,
)
from nanobrain.examples.data_analysis import DataSummary, data_summary
from nanobrain.examples.simulation import SimulationResult, simulation
from nanobrain.examples.text import Echo, TermCount, TextStats, echo, text_stats
from nanobrain.examples.tools import convert_units, gc_content, reverse_complement

DATA_DIR = Path(__file__).parent / "data"

__all__ = [
    "DATA_DIR",
    "DataSummary",
    "Echo",
    "OpenReadingFrame",
    "SequenceRecordResult",
    "SequenceReport",
    "SimulationResult",
    "TermCount",
    "TextStats",
    "convert_units",
    "data_summary",
    "echo",
    "gc_content",
    "lab_assistant",
    "reverse_complement",
    "sequence_analysis",
    "simulation",
    "text_stats",
]
