"""The runtime in-process, assembled and started as the server does it
(`nanobrain.runtime.assembly`), on a SQLite database of the test's own with the in-process
executor and event bus: the execution path a server request takes, without a server process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from nanobrain.config import load_settings
from nanobrain.core.registry import discover
from nanobrain.runtime.assembly import assemble
from nanobrain.runtime.build import Runtime

TARGETS = ("nanobrain.examples", "tests.support.flows")


@asynccontextmanager
async def embedded_runtime(
    data_dir: Path, targets: Sequence[str] = TARGETS, **environ: str
) -> AsyncIterator[Runtime]:
    """A started embedded runtime whose data lives in `data_dir`; `environ` adds settings as
    `NANOBRAIN_*` variables. Closed (executions stopped, connections released) on exit."""
    settings = load_settings(environ={"NANOBRAIN_DATA_DIR": str(data_dir), **environ})
    assembly = assemble(settings, discover(targets, entry_point_group=None))
    await assembly.start()
    try:
        yield assembly.runtime
    finally:
        await assembly.close()
