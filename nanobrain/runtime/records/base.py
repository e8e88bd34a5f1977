"""The records store: execution records in memory with write-behind to the database, and the
events that announce their changes. Two implementations settle outcomes each their own way:
`local` (this process runs every execution it records) and `distributed` (workers elsewhere run
them; PostgreSQL arbitrates). The assembly picks one.

Requests never wait on a database round trip of their own: changes are marked dirty and a single
flusher upserts everything dirty in one transaction (group commit), at most
`write_behind_seconds` after the change. A caller that needs durability
(`flush()`) awaits the commit that includes its record, sharing it with every
other request that arrived meanwhile.

One record never holds up the others. A batch that fails is written again record by record; a
record the database refuses for what it holds is replaced by a failed outcome of its execution
(`unwritable_record`), which is written instead. While the database refuses writes altogether
(down, full, locked, read-only) the flusher retries with exponential backoff, `flush()` gives up
with `StoreUnavailable` after `flush_timeout` seconds, and `check()` reports the writer stuck once
changes have waited that long; `close()` gives the last flush the same deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.observability.metrics import RECORD_WRITE_FAILURES
from nanobrain.runtime.closing import INTERRUPTED
from nanobrain.runtime.errors import StoreUnavailable
from nanobrain.runtime.events.base import EventBus
from nanobrain.runtime.executors.base import SHUTDOWN
from nanobrain.runtime.publisher import Publisher
from nanobrain.runtime.records.unwritable import (
    describe_error,
    failed_copy,
    unwritable_reason,
)
from nanobrain.store.executions import ExecutionRepository
from nanobrain.store.failures import database_unavailable

log = logging.getLogger(__name__)
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
PROBE_SECONDS = 1.0  # while refused, a request that needs durability brings the retry forward
SUSPECT_STRIKES = 3  # a record that alone fails while others go in is, after this many, refused


class ExecutionRecords(ABC):
    def __init__(
        self,
        repository: ExecutionRepository,
        bus: EventBus,
        *,
        cache_size: int = 10_000,
        write_behind_seconds: float = 0.05,
        flush_timeout: float = 5.0,
    ):
        self.repository = repository
        self.publisher = Publisher(bus)
        self._delay = write_behind_seconds
        self._flush_timeout = flush_timeout
        self._cache_size = cache_size
        self._live: dict[str, ExecutionRecord] = {}  # not final yet: always in memory
        self._recent: OrderedDict[str, ExecutionRecord] = OrderedDict()  # final, LRU
        self._dirty: dict[str, ExecutionRecord] = {}
        self._writing: list[ExecutionRecord] = []  # the batch being written now
        self._waiters: list[asyncio.Future[None]] = []
        self._finals: dict[str, asyncio.Future[None]] = {}
        self._wakeup = asyncio.Event()  # something is dirty
        self._urgent = asyncio.Event()  # somebody waits for a commit
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self._retry_now = asyncio.Event()  # ends a backoff pause early (closing, or a probe)
        # The writer's health: what `check()`, `/health` and `/metrics` report.
        self._unwritten_since: float | None = None  # oldest change not committed (monotonic)
        self._refused_since: float | None = None  # the database refuses writes since then
        self._last_attempt = 0.0
        self._refusals = 0  # attempts refused in a row: sets the backoff
        self._last_error: str | None = None
        self._strikes: dict[str, int] = {}
        self.on_unwritable: Callable[[ExecutionRecord, bool], None] | None = None
        """Called with a record just replaced by its failed outcome, and whether it was final
        before (the service publishes the closing events and stops the run)."""

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="execution-flusher")

    async def close(self) -> None:
        """Flush everything, within `flush_timeout`, then let the flusher end (it is not
        cancelled while it writes: a write cut off mid-transaction would leave its connection
        holding the database's write lock). What cannot be written by then is logged (counts
        only) and left: the next start marks unfinished executions failed."""
        deadline = time.monotonic() + self._flush_timeout
        with contextlib.suppress(StoreUnavailable):
            await self.flush()
        self._closed = True
        self._retry_now.set()
        self._wakeup.set()
        self._urgent.set()
        if self._flusher is not None:
            remaining = max(0.1, deadline - time.monotonic())
            done, _ = await asyncio.wait({self._flusher}, timeout=remaining)
            if not done:  # stuck in a write the database does not answer: we are leaving
                self._flusher.cancel()
        unwritten = self.backlog
        if unwritten:
            log.error(
                "stopping with %d execution record change(s) unwritten: the database refused "
                "writes (%s); executions left unfinished are marked failed at the next start",
                unwritten,
                self._last_error or "no answer in time",
            )

    # -- what the two implementations do each their own way --------------------------------
    @abstractmethod
    def add(self, record: ExecutionRecord) -> None:
        """Track a new record; it is written with the next batch (`flush()` to wait for it)."""

    @abstractmethod
    async def claim(self, execution_id: str) -> ExecutionRecord | None:
        """Move a queued execution to `running` for this process; None if it is not queued any
        more (cancelled before it started, or taken by another worker)."""

    @abstractmethod
    def status(self, record: ExecutionRecord) -> None:
        """Announce the record's new state (queued, running, or a cached outcome)."""

    @abstractmethod
    async def finish(
        self,
        record: ExecutionRecord,
        status: ExecutionStatus,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Record the outcome, then publish it: `result` or `error`, then the final `status`.
        False if the execution had already ended, here or (shared) in another process."""

    @abstractmethod
    async def refuse(
        self, record: ExecutionRecord, error: dict[str, Any], *, committed: bool
    ) -> bool:
        """Fail a new execution that never started because its admission failed (`committed`:
        its record reached the database first); False if it had moved on meanwhile."""

    @abstractmethod
    def announce(self, record: ExecutionRecord) -> None:
        """Publish the closing events of a record made final outside a run (replaced by its
        failed outcome when it could not be stored)."""

    @abstractmethod
    async def wait(self, record: ExecutionRecord, max_wait: float) -> ExecutionRecord:
        """Wait up to `max_wait` seconds for a final state; return the record as it then is."""

    @abstractmethod
    async def cancel_unclaimed(self, record: ExecutionRecord) -> ExecutionRecord:
        """Cancel here an execution that no run holds yet; the record as it then is (final when
        it ended), else its executor has to cancel it."""

    @abstractmethod
    async def fail_unfinished(self) -> int:
        """At start: fail the executions a dead process of this store left unfinished; how
        many."""

    @abstractmethod
    async def _upsert(self, batch: list[ExecutionRecord]) -> None:
        """Write a batch of changes."""

    @abstractmethod
    async def _write_replacement(
        self, record: ExecutionRecord, replacement: ExecutionRecord
    ) -> bool:
        """Write the failed outcome in place of `record`; False when another process changed
        the execution meanwhile."""

    # -- shared by both --------------------------------------------------------------------
    async def interrupt(self, record: ExecutionRecord, reason: str) -> bool:
        """End an execution stopped from outside: cancelled by a user, or failed by shutdown.
        False if it had already ended."""
        if reason == SHUTDOWN:
            error = {"type": "interrupted", "message": INTERRUPTED}
            return await self.finish(record, ExecutionStatus.FAILED, error=error)
        return await self.finish(record, ExecutionStatus.CANCELLED)

    async def commit(self, record: ExecutionRecord, status: ExecutionStatus, attempts: int) -> bool:
        """Write `record` now if its row is still in `status` at `attempts`; False
        (and the copy is dropped) if another process changed the execution first."""
        self._dirty.pop(record.id, None)
        written = await self.repository.compare_and_set(record, status, attempts)
        if not written:
            self._live.pop(record.id, None)
        elif record.status.final:
            self._settled(record)
        return written

    def touch(self, record: ExecutionRecord) -> None:
        """Mark a record changed; moves final records from the live set to the recent cache."""
        self._dirty[record.id] = record
        if record.status.final and record.id in self._live:
            self._settled(record)
        self._wakeup.set()

    def _settled(self, record: ExecutionRecord) -> None:
        """A record reached its final state: from the live set to the recent cache."""
        self._live.pop(record.id, None)
        self._remember(record)
        final = self._finals.pop(record.id, None)
        if final is not None and not final.done():
            final.set_result(None)

    def finished(self, record: ExecutionRecord) -> asyncio.Future[None]:
        """Resolves when this process sees the record reach a final state."""
        future = self._finals.get(record.id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            if record.status.final:
                future.set_result(None)
            else:
                self._finals[record.id] = future
        return future

    def cached(self, execution_id: str) -> ExecutionRecord | None:
        return self._live.get(execution_id) or self._recent.get(execution_id)

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        record = self.cached(execution_id)
        if record is not None:
            return record
        return await self.repository.get(execution_id)

    def _remember(self, record: ExecutionRecord) -> None:
        self._recent[record.id] = record
        if len(self._recent) > self._cache_size:
            self._recent.popitem(last=False)

    # -- durability ----------------------------------------------------------------------------
    async def flush(self) -> None:
        """Return once everything dirty now is committed. Raises `StoreUnavailable` when the
        database has not taken it within `flush_timeout` seconds (at once when it has been
        refusing writes for that long already)."""
        if not self._dirty and not self._writing:
            return
        if self._flusher is None or self._flusher.done():
            await self._write(self._take())
            return
        if self._refused_since is not None and self._refusing_for() >= self._flush_timeout:
            # Refused for long enough to answer at once; but have it tried again soon (at most
            # once a second), so that a recovered database is noticed before the backoff ends.
            if time.monotonic() - self._last_attempt >= PROBE_SECONDS:
                self._retry_now.set()
            raise self._unavailable()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._urgent.set()
        self._wakeup.set()
        try:
            await asyncio.wait_for(waiter, self._flush_timeout)
        except TimeoutError:
            raise self._unavailable() from None

    def _unavailable(self) -> StoreUnavailable:
        retry = max(1, round(min(self._backoff(), self._flush_timeout)))
        return StoreUnavailable(
            "the database is not taking writes at the moment, so this request cannot be "
            "recorded durably; try again shortly",
            retry_after=retry,
        )

    def _refusing_for(self) -> float:
        return time.monotonic() - self._refused_since if self._refused_since is not None else 0.0

    def _backoff(self) -> float:
        if not self._refusals:
            return 0.0
        return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (self._refusals - 1))

    def check(self) -> dict[str, Any]:
        """The writer's part of `GET /health`: `down` once changes have waited unwritten for
        `flush_timeout` seconds."""
        oldest = self.oldest_unwritten_seconds()
        stuck = oldest >= self._flush_timeout
        check: dict[str, Any] = {
            "status": "down" if stuck else "ok",
            "backlog": self.backlog,
            "oldest_unwritten_seconds": round(oldest, 3),
        }
        if self._refused_since is not None:
            check["refusing_seconds"] = round(self._refusing_for(), 3)
        if stuck or self._refused_since is not None:
            check["error"] = self._last_error or "the database has not answered"
        return check

    @property
    def backlog(self) -> int:
        """Records with changes not yet committed."""
        dirty = self._dirty
        return len(dirty) + sum(1 for record in self._writing if record.id not in dirty)

    def oldest_unwritten_seconds(self) -> float:
        since = self._unwritten_since
        if since is None or not self.backlog:
            return 0.0
        return time.monotonic() - since

    def _take(self) -> list[ExecutionRecord]:
        batch = list(self._dirty.values())
        self._dirty.clear()
        return batch

    async def _write(self, batch: list[ExecutionRecord]) -> None:
        if batch:
            self._last_attempt = time.monotonic()
            await self._upsert(batch)

    async def _flush_forever(self) -> None:
        while not self._closed:
            await self._wakeup.wait()
            if self._unwritten_since is None:
                self._unwritten_since = time.monotonic()
            if not self._waiters and self._delay:
                # Nobody waits: let changes gather, so a short run's queued, running and final
                # states cost one row write instead of three.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self._delay)
            self._wakeup.clear()
            self._urgent.clear()
            waiters, self._waiters = self._waiters, []
            started = time.monotonic()
            batch = self._writing = self._take()
            try:
                complete = await self._write_isolated(batch)
            finally:
                self._writing = []
            if not complete:
                self._waiters[:0] = [waiter for waiter in waiters if not waiter.done()]
                self._wakeup.set()
                await self._pause()
                continue
            self._unwritten_since = started if self._dirty else None
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _pause(self) -> None:
        """Wait out the backoff (ended early by `close`, or by a probe from `flush`)."""
        self._retry_now.clear()
        if self._closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._retry_now.wait(), self._backoff() or BACKOFF_FIRST_SECONDS)

    # -- isolating failures --------------------------------------------------------------------
    async def _write_isolated(self, batch: list[ExecutionRecord]) -> bool:
        """Write `batch`; True when every record was written (or replaced by its failed
        outcome). False when some are back in the dirty set for the next attempt."""
        if not batch:
            return True
        try:
            await self._write(batch)
        except Exception as exc:
            if len(batch) > 1 or not database_unavailable(exc):
                return await self._write_one_by_one(batch)
            self._refused(exc, batch)
            return False
        self._accepted()
        return True

    async def _write_one_by_one(self, batch: list[ExecutionRecord]) -> bool:
        complete, healthy = True, False  # healthy: the database took a write in this pass
        pending = deque(batch)
        while pending:
            record = pending.popleft()
            try:
                await self._write([record])
            except Exception as exc:
                error = exc
            else:
                healthy = True
                self._strikes.pop(record.id, None)
                continue
            if database_unavailable(error) and not self._struck_out(record, healthy):
                if not healthy:  # nothing goes in: the database, not this record
                    self._refused(error, [record, *pending])
                    return False
                self._requeue([record])
                complete = False
                continue
            replaced = await self._replace(record, error, healthy)
            if replaced is None:  # the replacement did not go in either
                self._refused(error, [record, *pending])
                return False
            healthy = healthy or replaced
        if healthy:
            self._accepted()
        return complete

    def _struck_out(self, record: ExecutionRecord, healthy: bool) -> bool:
        """A record that fails alone while others go in is refused after `SUSPECT_STRIKES`
        attempts, even with an error that usually means the database is unavailable."""
        if not healthy:
            return False
        strikes = self._strikes.get(record.id, 0) + 1
        self._strikes[record.id] = strikes
        return strikes >= SUSPECT_STRIKES

    async def _replace(
        self, record: ExecutionRecord, error: Exception, healthy: bool
    ) -> bool | None:
        """Write the failed outcome of `record`'s execution in its place, and make the record
        in memory say the same. True when written; False when it could not be written but the
        database took others (dropped, logged); None when nothing shows the database works."""
        self._strikes.pop(record.id, None)
        reason = unwritable_reason(record, error)
        replacement = failed_copy(record, reason, keep_input=True)
        try:
            written = await self._write_replacement(record, replacement)
        except Exception:
            replacement = failed_copy(record, reason, keep_input=False)
            try:
                written = await self._write_replacement(record, replacement)
            except Exception as exc:
                if not healthy:
                    return None
                RECORD_WRITE_FAILURES.labels("unwritable").inc()
                log.error(
                    "execution %s: its record cannot be written (%s), nor its failed outcome "
                    "(%s); the change is dropped",
                    record.id,
                    reason,
                    type(exc).__name__,
                )
                return False
        RECORD_WRITE_FAILURES.labels("unwritable").inc()
        log.error(
            "execution %s: its record cannot be written (%s); it is recorded as failed instead",
            record.id,
            reason,
        )
        if written:
            self._adopt(record, replacement)
        return True

    def _adopt(self, record: ExecutionRecord, replacement: ExecutionRecord) -> None:
        """The record in memory (shared by the runner and the caches) now says what was
        written; its run, if still going, is stopped through `on_unwritable`."""
        was_final = record.status.final
        for field in dataclasses.fields(ExecutionRecord):
            setattr(record, field.name, getattr(replacement, field.name))
        if not was_final and record.id in self._live:
            self._settled(record)
        else:
            self._remember(record)
        self._dirty.pop(record.id, None)  # later changes of a failed run are moot
        if self.on_unwritable is not None:
            try:
                self.on_unwritable(record, was_final)
            except Exception:
                log.exception("announcing the failed outcome of execution %s failed", record.id)

    def _requeue(self, records: list[ExecutionRecord]) -> None:
        for record in records:  # keep them dirty unless changed since
            self._dirty.setdefault(record.id, record)

    def _refused(self, error: Exception, records: list[ExecutionRecord]) -> None:
        self._requeue(records)
        self._refusals += 1
        if self._refused_since is None:
            self._refused_since = time.monotonic()
        self._last_error = type(error).__name__
        RECORD_WRITE_FAILURES.labels("unavailable").inc()
        if self._refusals == 1 or self._refusals % 20 == 0:  # not a line per attempt
            log.error(
                "the database refuses writes (%s, attempt %d): %d execution record change(s) "
                "wait; retrying in %.1f s",
                describe_error(error),
                self._refusals,
                self.backlog,
                self._backoff(),
            )

    def _accepted(self) -> None:
        if self._refusals:
            log.warning(
                "the database takes writes again after %.1f s (%d attempt(s) refused)",
                self._refusing_for(),
                self._refusals,
            )
        self._refusals = 0
        self._refused_since = None
        self._last_error = None


def conclude(
    record: ExecutionRecord,
    status: ExecutionStatus,
    output: Any,
    error: dict[str, Any] | None,
) -> None:
    """Move the record to its outcome: the final state and what the run gave."""
    record.transition(status)
    if status is ExecutionStatus.SUCCEEDED:
        record.output = output
        record.progress_fraction = 1.0
    elif error is not None:
        record.error = error
