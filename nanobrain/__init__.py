"""NanoBrain: a complete web presence for any typed async AI workflow, with no web code.

`import nanobrain` loads the core alone (what a workflow author needs). `nanobrain.serve`,
`nanobrain.create_app` and `nanobrain.testing` load the server's layers on first use.
"""

from importlib import import_module
from typing import Any

from nanobrain.core import (
    LLM,
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
    WorkflowOptions,
    tool,
    workflow,
)

__version__ = "0.1.0"

__all__ = [
    "LLM", "Agent", "Chart", "Context", "File", "Image", "Markdown", "Registry", "Step", "Table",
    "WorkflowError", "WorkflowOptions", "__version__", "create_app", "serve", "testing", "tool",
    "workflow",
]  # fmt: skip

# Imported by name on first use (PEP 562): importing the core does not import the web, and the
# layers contract (import-linter) sees no import from the package root up into the layers.
_LAZY = {"serve": "nanobrain.serving", "create_app": "nanobrain.serving"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name == "testing":
        return import_module("nanobrain.testing")
    raise AttributeError(f"module 'nanobrain' has no attribute {name!r}")
