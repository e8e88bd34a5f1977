"""Run workflows in a unit test, without a server: `result = await nanobrain.testing.run(fn, x=1)`.

It is the real runtime (the same assembly as the server: execution service, runner, records on a
SQLite database in a temporary directory, the in-process event bus), so a workflow behaves here
as it does when served: inputs are validated against its schema, `ctx.progress`, steps and
`ctx.emit` become events, and a failure is an execution that failed, with its error.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from nanobrain.config import Settings, load_settings
from nanobrain.config.loading import nest
from nanobrain.core.decorators import spec_of
from nanobrain.core.registry import Registry
from nanobrain.core.user import User
from nanobrain.runtime.assembly import Assembly, assemble
from nanobrain.runtime.errors import InvalidInput
from nanobrain.security.policy import LOCAL_ADMIN

__all__ = ["Event", "Harness", "InvalidInput", "Result", "run"]


@dataclass(frozen=True)
class Event:
    """One event of the execution, as clients receive it (`type`: progress, chunk, log, ...)."""

    type: str
    data: Any


@dataclass
class Result:
    """What one execution produced."""

    status: str  # succeeded, failed or cancelled
    output: Any  # the JSON-able output, as the API returns it (None unless succeeded)
    error: dict[str, Any] | None  # {"type", "message", ...} when it failed
    events: list[Event] = field(default_factory=list)

    @property
    def progress(self) -> list[dict[str, Any]]:
        """Each progress report: `{"fraction", "message", "step"}`."""
        return [event.data for event in self.events if event.type == "progress"]

    @property
    def steps(self) -> list[str]:
        """The steps that reported progress, in the order they started."""
        return list(dict.fromkeys(p["step"] for p in self.progress if p.get("step")))

    @property
    def chunks(self) -> list[Any]:
        """What the workflow streamed (`ctx.emit`, or what an async generator yielded)."""
        return [event.data.get("delta") for event in self.events if event.type == "chunk"]

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class Harness:
    """The runtime for `targets`, started for the duration of an `async with`.

    `settings`: configuration overrides, as for `nanobrain.serve` (nested by `__` or dicts);
    the environment and configuration files are not read, so a test sees the same settings on
    every machine. Data lives in a temporary directory unless `data_dir` is given.
    """

    def __init__(self, *targets: Any, user: User = LOCAL_ADMIN, **settings: Any) -> None:
        self.registry = Registry()
        for target in targets:
            if isinstance(target, str):
                self.registry.load(target)
            else:
                self.registry.add(target, source="nanobrain.testing")
        self.registry.validate()
        self.user = user
        self._settings = nest(settings)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._assembly: Assembly | None = None

    @property
    def settings(self) -> Settings:
        if self._assembly is None:
            raise RuntimeError("the harness is not started: use `async with Harness(...)`")
        return self._assembly.settings

    async def __aenter__(self) -> Harness:
        overrides = dict(self._settings)
        if "data_dir" not in overrides:
            self._tmp = tempfile.TemporaryDirectory(prefix="nanobrain-test-")
            overrides["data_dir"] = self._tmp.name
        settings = load_settings(overrides=overrides, environ={})
        self._assembly = assemble(settings, self.registry)
        try:
            await self._assembly.start()
        except BaseException:
            await self._assembly.runtime.release()
            self._cleanup()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._assembly is not None:
                await self._assembly.close()
        finally:
            self._assembly = None
            self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def run(self, workflow: Any, /, **inputs: Any) -> Result:
        """Run `workflow` (a registered function, or its name) with `inputs` to its end.

        Invalid inputs raise `InvalidInput` (as the API answers 422); everything the workflow
        does, failing included, is in the result."""
        if self._assembly is None:
            raise RuntimeError("the harness is not started: use `async with Harness(...)`")
        executions = self._assembly.runtime.executions
        spec = spec_of(workflow)
        name = spec.name if spec is not None else str(workflow)
        runnable = executions.runnable("workflow", name, self.user)
        record = await executions.submit(runnable, inputs, self.user)
        events = [Event(event.type, event.data) async for event in executions.events(record, 0)]
        final = await executions.get(record.id, self.user)
        return Result(
            status=final.status.value, output=final.output, error=final.error, events=events
        )


async def run(workflow: Any, /, **inputs: Any) -> Result:
    """Run one workflow function with `inputs` on a fresh runtime, and return what it did."""
    async with Harness(workflow) as harness:
        return await harness.run(workflow, **inputs)
