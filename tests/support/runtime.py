"""The runtime in-process, assembled as the server assembles it (`nanobrain.runtime.build`), on a
SQLite database of the test's own with the in-process executor and event bus: the execution path
a server request takes, without a server process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from nanobrain.config import load_settings
from nanobrain.core.registry import discover
from nanobrain.runtime.build import Runtime, build_runtime
from nanobrain.store.database import upgrade

TARGETS = ("nanobrain.examples", "tests.support.flows")


@asynccontextmanager
async def embedded_runtime(
    data_dir: Path, targets: Sequence[str] = TARGETS, **environ: str
) -> AsyncIterator[Runtime]:
    """A started embedded runtime whose data lives in `data_dir`; `environ` adds settings as
    `NANOBRAIN_*` variables. Closed (executions stopped, connections released) on exit."""
    settings = load_settings(environ={"NANOBRAIN_DATA_DIR": str(data_dir), **environ})
    runtime = build_runtime(settings, discover(targets, entry_point_group=None))
    await upgrade(runtime.engine)
    await runtime.executions.start()
    try:
        yield runtime
    finally:
        await runtime.close()
