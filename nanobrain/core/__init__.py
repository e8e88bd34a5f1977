"""The core framework: workflows, tools, agents, steps, data types, the registry. No HTTP here."""

from nanobrain.core.agent import Agent
from nanobrain.core.context import Context, Step, Steps
from nanobrain.core.decorators import spec_of, tool, workflow
from nanobrain.core.errors import RegistrationError, WorkflowError
from nanobrain.core.llm import LLM
from nanobrain.core.options import ToolOptions, WorkflowOptions
from nanobrain.core.registry import Registry, discover
from nanobrain.core.spec import Runnable
from nanobrain.core.types import Chart, File, Image, Markdown, Table
from nanobrain.core.user import User

__all__ = [
    "LLM",
    "Agent",
    "Chart",
    "Context",
    "File",
    "Image",
    "Markdown",
    "RegistrationError",
    "Registry",
    "Runnable",
    "Step",
    "Steps",
    "Table",
    "ToolOptions",
    "User",
    "WorkflowError",
    "WorkflowOptions",
    "discover",
    "spec_of",
    "tool",
    "workflow",
]  # fmt: skip
