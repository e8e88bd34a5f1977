"""NanoBrain: a complete web presence for any typed async AI workflow, with no web code."""

from nanobrain.core import (
    Agent,
    Chart,
    Context,
    File,
    Image,
    Markdown,
    Registry,
    Step,
    Table,
    WorkflowError,
    tool,
    workflow,
)

__version__ = "0.1.0"

__all__ = [
    "Agent", "Chart", "Context", "File", "Image", "Markdown", "Registry", "Step", "Table",
    "WorkflowError", "__version__", "tool", "workflow",
]  # fmt: skip
