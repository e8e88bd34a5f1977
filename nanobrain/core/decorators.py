"""`@workflow` and `@tool`: attach a spec to a typed async callable, leaving it callable as is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar, Unpack, overload

from nanobrain.core.options import ToolOptions, WorkflowOptions
from nanobrain.core.spec import Runnable, build_runnable

F = TypeVar("F", bound=Callable[..., Any])
SPEC_ATTRIBUTE = "__nanobrain__"


def spec_of(obj: Any) -> Runnable | None:
    """The spec a decorator attached to `obj`, if any."""
    spec = getattr(obj, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, Runnable) else None


def _decorate(kind: Literal["workflow", "tool"], fn: F | None, options: WorkflowOptions) -> Any:
    def attach(target: F) -> F:
        setattr(target, SPEC_ATTRIBUTE, build_runnable(target, kind=kind, **options))
        return target

    return attach(fn) if fn is not None else attach


@overload
def workflow(fn: F, /) -> F: ...
@overload
def workflow(**options: Unpack[WorkflowOptions]) -> Callable[[F], F]: ...
def workflow(fn: Any = None, /, **options: Unpack[WorkflowOptions]) -> Any:
    """Register an async function `(ctx: Context, **typed_inputs) -> Output` as a workflow
    (`ctx` is optional). Options: `core.options.WorkflowOptions`.

    The mode is `stream` for async generators and `sync` otherwise, unless `mode` says `job`
    (long-running: clients submit and poll or subscribe) or `chat` (takes `message: str`).
    `roles` narrows who may see and run it; `retry_safe` allows redelivery after a worker dies;
    `cache` (True, or seconds) reuses the output of an earlier run with the same input and user
    while `cache_config.enabled`.
    """
    return _decorate("workflow", fn, options)


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(**options: Unpack[ToolOptions]) -> Callable[[F], F]: ...
def tool(fn: Any = None, /, **options: Unpack[ToolOptions]) -> Any:
    """Register a typed async function as a tool that agents, the API and MCP can call.
    Options: `core.options.ToolOptions`."""
    return _decorate("tool", fn, WorkflowOptions(**options))
