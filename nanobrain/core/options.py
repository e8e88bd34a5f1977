"""The options a workflow or tool is registered with: one declaration that the decorators,
`build_runnable` and YAML registration all read. A new option is added here (and handled in
`core.spec.build_runnable`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict


class ToolOptions(TypedDict, total=False):
    name: str | None  # default: the function's name, with - for _
    title: str | None
    description: str | None  # default: the docstring
    tags: Iterable[str]
    version: str
    examples: Iterable[str]  # requests it answers, for the router and the UI
    timeout: float | None  # seconds; None: runtime.default_timeout_seconds
    roles: Iterable[str] | None  # who may see and run it; None: everyone


class WorkflowOptions(ToolOptions, total=False):
    mode: str | None  # sync | job | stream | chat; None: stream for generators, else sync
    retry_safe: bool  # may run again after its worker died
    cache: bool | float  # reuse an earlier run's output (True, or for so many seconds)


WORKFLOW_OPTIONS: tuple[str, ...] = tuple(WorkflowOptions.__annotations__)
TOOL_OPTIONS: tuple[str, ...] = tuple(ToolOptions.__annotations__)
