"""`Context`: a workflow's only window on the runtime. Knows nothing of HTTP or storage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from nanobrain.core.llm import LLM
from nanobrain.core.types import File
from nanobrain.core.user import User


class ExecutionSink(Protocol):
    """What the runtime does with a context's signals (publish events, update the record)."""

    def progress(self, fraction: float | None, message: str | None, step: str | None) -> None: ...

    def emit(self, event_type: str, data: Any) -> None: ...


class FileAccess(Protocol):
    """Stored files, scoped to the execution's owner."""

    async def get(self, file_id: str) -> File: ...

    async def save(self, filename: str, data: bytes, content_type: str | None = None) -> File: ...


class Context:
    """Passed to a workflow or tool that declares a `Context` parameter (it is optional: a
    workflow that reports nothing and needs no files, session or model can leave it out).

    `llm` is the configured language model (`LLM`), or None when none is configured.

    In a chat turn, `session` is the conversation's state (a JSON-able dict saved after each
    successful turn), `history` its earlier messages (`{"role", "content", ...}`, oldest first),
    and `transcript` collects the tool messages the turn adds before its reply.
    """

    def __init__(
        self,
        *,
        execution_id: str,
        workflow: str,
        user: User,
        sink: ExecutionSink,
        files: FileAccess,
        session_id: str | None = None,
        session: dict[str, Any] | None = None,
        history: list[dict[str, Any]] | None = None,
        llm: LLM | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.workflow = workflow
        self.user = user
        self.files = files
        self.session_id = session_id
        self.session: dict[str, Any] = session if session is not None else {}
        self.history: list[dict[str, Any]] = history if history is not None else []
        self.transcript: list[dict[str, Any]] = []
        self.llm = llm
        self._sink = sink
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        """True once cancellation was requested; the running coroutine is also interrupted."""
        return self._cancelled

    def mark_cancelled(self) -> None:
        self._cancelled = True

    def progress(
        self, fraction: float | None = None, message: str | None = None, step: str | None = None
    ) -> None:
        """Report overall progress in [0, 1] (clamped), with an optional message and step name."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        self._sink.progress(fraction, message, step)

    def emit(self, chunk: Any) -> None:
        """Stream a partial result to clients (a `chunk` event with `{"delta": chunk}`)."""
        self._sink.emit("chunk", {"delta": chunk})

    def report(self, event_type: str, data: Any) -> None:
        """Publish an event of another type (an agent's `tool_call` and `tool_result`)."""
        self._sink.emit(event_type, data)

    def log(self, message: str, level: str = "info") -> None:
        self._sink.emit("log", {"level": level, "message": message})

    def steps(self, *names: str, **weighted: float) -> Steps:
        """Plan the workflow as named steps (optionally weighted) whose progress adds up to 1."""
        plan: dict[str, float] = dict.fromkeys(names, 1.0)
        plan.update(weighted)
        return Steps(self, plan)


class Step:
    """One named step of a workflow: its own progress in [0, 1] maps onto its slice of the whole.

    Use as `async with steps["align"] as step: step.progress(0.5)`; entering and leaving the block
    report the step's start and end.
    """

    def __init__(self, ctx: Context, name: str, start: float, span: float, index: int, total: int):
        self.ctx = ctx
        self.name = name
        self.start = start
        self.span = span
        self.index = index
        self.total = total

    def progress(self, fraction: float, message: str | None = None) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        self.ctx.progress(self.start + self.span * fraction, message, self.name)

    async def __aenter__(self) -> Step:
        self.ctx.progress(self.start, f"step {self.index}/{self.total}: {self.name}", self.name)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.ctx.progress(self.start + self.span, f"{self.name} done", self.name)


class Steps:
    """An ordered plan of steps; index by name or iterate in order."""

    def __init__(self, ctx: Context, plan: dict[str, float]):
        if not plan:
            raise ValueError("a step plan needs at least one step")
        if any(weight <= 0 for weight in plan.values()):
            raise ValueError("step weights must be positive")
        total_weight = sum(plan.values())
        self._steps: dict[str, Step] = {}
        start = 0.0
        for index, (name, weight) in enumerate(plan.items(), start=1):
            span = weight / total_weight
            self._steps[name] = Step(ctx, name, start, span, index, len(plan))
            start += span

    def __getitem__(self, name: str) -> Step:
        return self._steps[name]

    def __iter__(self) -> Iterator[Step]:
        return iter(self._steps.values())

    def __len__(self) -> int:
        return len(self._steps)
