"""The composition root: what the server, `nanobrain worker` and `nanobrain run` all run on.

`assemble` builds the runtime (`runtime.build`: records, executor, event bus, files, chat) and,
for a process that answers requests, the security services over the same database; `start`
readies the store and recovers what a stopped process left, `close` stops in the reverse order.
The web app adds only its own parts (streams' caps, routes, middleware) on top. Nothing here
changes the process (garbage-collector tuning and signals belong to the entry points), nor
what it is given: the runtime serves a copy of the registry.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.runtime import scratch
from nanobrain.runtime.build import Runtime, build_runtime
from nanobrain.security.services import SecurityServices, build_security
from nanobrain.store.database import upgrade
from nanobrain.store.private import private_directory

log = logging.getLogger(__name__)


@dataclass
class Assembly:
    settings: Settings
    runtime: Runtime
    security: SecurityServices | None  # None in a worker: it answers no requests

    @property
    def registry(self) -> Registry:
        return self.runtime.registry

    async def start(self) -> int:
        """Migrate the database, remove the plaintext scratch of stopped processes, and start
        the executions; returns how many executions a stopped process left unfinished (they are
        marked failed)."""
        private_directory(self.settings.data_dir)
        await upgrade(self.runtime.engine)
        swept = await asyncio.to_thread(scratch.sweep)
        if swept:
            log.warning("removed %d plaintext scratch director(ies) of stopped processes", swept)
        interrupted = await self.runtime.executions.start()
        if interrupted:
            log.warning(
                "marked %d execution(s) failed: they were unfinished when the server last stopped",
                interrupted,
            )
        return interrupted

    async def stop(self) -> None:
        """Stop the executions (running ones finish within the grace period)."""
        await self.runtime.executions.stop()

    async def release(self) -> None:
        """Write what security noted in memory and close every connection (after `stop`)."""
        if self.security is not None:
            await _close_bounded(self.security, self.settings.runtime.flush_timeout_seconds)
        await self.runtime.release()

    async def close(self) -> None:
        await self.stop()
        await self.release()


def assemble(settings: Settings, registry: Registry, *, worker: str | None = None) -> Assembly:
    """Everything but the web parts. `worker`: the name under which a `nanobrain worker`
    takes jobs (it gets no security services). Raises `StorageKeyError` when the configured
    encryption keys cannot serve the stored data."""
    runtime = build_runtime(settings, registry, worker=worker)
    security = (
        None
        if worker is not None
        else build_security(settings, runtime.engine, runtime.executions.accounts)
    )
    return Assembly(settings=settings, runtime=runtime, security=security)


async def _close_bounded(security: SecurityServices, seconds: float) -> None:
    """Bounded, as the records' last flush: the database may not be taking writes. A write it
    does not answer is left behind, not awaited (cancelling it would wait for it)."""
    closing = asyncio.ensure_future(security.close())
    await asyncio.wait({closing}, timeout=seconds)
    failure = closing.exception() if closing.done() else TimeoutError()
    if failure is not None:
        closing.cancel()
        log.error(
            "stopping: audit entries and key usage could not be written (%s)",
            type(failure).__name__,
        )
