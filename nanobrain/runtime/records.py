"""Execution records in memory with write-behind to the database.

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

`shared=True` (distributed mode): other processes run and change the records, so only the records
this process runs are kept in memory (with final ones, which never change), a worker takes an
execution by compare-and-set on the database row, and outcomes are committed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from nanobrain.core import jsoncodec
from nanobrain.core.clock import utcnow
from nanobrain.core.execution import ExecutionRecord, ExecutionStatus
from nanobrain.observability.metrics import RECORD_WRITE_FAILURES
from nanobrain.runtime.errors import StoreUnavailable
from nanobrain.store.executions import ExecutionRepository
from nanobrain.store.failures import database_unavailable

log = logging.getLogger(__name__)
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
PROBE_SECONDS = 1.0  # while refused, a request that needs durability brings the retry forward
SUSPECT_STRIKES = 3  # a record that alone fails while others go in is, after this many, refused
UNWRITABLE = "unwritable_record"
_JSON_FIELDS = ("input", "output", "error", "artifacts")
_TEXT_FIELDS = ("progress_message", "progress_step", "routed_from")


class ExecutionRecords:
    def __init__(
        self,
        repository: ExecutionRepository,
        *,
        cache_size: int = 10_000,
        write_behind_seconds: float = 0.05,
        flush_timeout: float = 5.0,
        shared: bool = False,
    ):
        self.repository = repository
        self.shared = shared
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

    def add(self, record: ExecutionRecord) -> None:
        """Track a new record; it is written with the next batch (`flush()` to wait for it)."""
        if not self.shared:  # shared: the worker that runs it holds the live copy
            self._live[record.id] = record
        self.touch(record)

    async def claim(self, execution_id: str) -> ExecutionRecord | None:
        """Move a queued execution to `running` for this process; None if it is not queued any
        more (cancelled before it started, or taken by another worker)."""
        if not self.shared:
            record = self.cached(execution_id) or await self.get(execution_id)
            if record is None or record.status is not ExecutionStatus.QUEUED:
                return None
            record.transition(ExecutionStatus.RUNNING)
            return record
        record = await self.repository.claim(execution_id)
        if record is not None:
            self._live[record.id] = record
        return record

    async def commit(self, record: ExecutionRecord, status: ExecutionStatus, attempts: int) -> bool:
        """Shared mode: write `record` now if its row is still in `status` at `attempts`; False
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
        record = await self.repository.get(execution_id)
        if record is not None and self.shared and record.status.final:
            self._remember(record)  # final records never change: safe to keep
        return record

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
            await self.repository.upsert_many(batch, fenced=self.shared)

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
        reason = _unwritable_reason(record, error)
        replacement = _failed_copy(record, reason, keep_input=True)
        try:
            written = await self._write_replacement(record, replacement)
        except Exception:
            replacement = _failed_copy(record, reason, keep_input=False)
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

    async def _write_replacement(
        self, record: ExecutionRecord, replacement: ExecutionRecord
    ) -> bool:
        """False when, in shared mode, another process changed the execution meanwhile."""
        if self.shared:
            return await self.repository.compare_and_set(
                replacement, record.status, record.attempts
            )
        await self.repository.upsert_many([replacement])
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
                _describe(error),
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


def _describe(error: BaseException) -> str:
    """The error's class and, for the driver's own message, its first line (a SQL error's full
    text quotes parameters, which may be user data or secrets)."""
    orig = getattr(error, "orig", None)
    if orig is not None:
        first = str(orig).splitlines()[0][:200] if str(orig) else ""
        return f"{type(error).__name__}: {first}" if first else type(error).__name__
    return type(error).__name__


def _unwritable_reason(record: ExecutionRecord, error: Exception) -> str:
    """Which of the record's values cannot be stored, and why, without quoting them."""
    reasons = []
    for name in _JSON_FIELDS:
        try:
            jsoncodec.check(getattr(record, name))
        except jsoncodec.Unencodable as exc:
            reasons.append(f"its {name}: {exc}")
    for name in _TEXT_FIELDS:
        if not _storable_text(getattr(record, name)):
            reasons.append(f"its {name.replace('_', ' ')} is not valid text")
    if reasons:
        return "; ".join(reasons)
    return f"the database refused it ({type(error).__name__})"


def _storable_text(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in value  # PostgreSQL's text cannot hold NUL


def _failed_copy(record: ExecutionRecord, reason: str, *, keep_input: bool) -> ExecutionRecord:
    """The execution's failed outcome, without the values that may not be storable."""
    keep = keep_input
    if keep:
        try:
            jsoncodec.check(record.input)
        except jsoncodec.Unencodable:
            keep = False
    return dataclasses.replace(
        record,
        status=ExecutionStatus.FAILED,
        input=record.input if keep else None,
        output=None,
        error={
            "type": UNWRITABLE,
            "message": f"the execution's record could not be stored: {reason}; the execution "
            "is recorded as failed instead",
        },
        artifacts=[],
        progress_message=None,
        progress_step=None,
        routed_from=record.routed_from if keep and _storable_text(record.routed_from) else None,
        finished_at=record.finished_at if record.status.final else utcnow(),
    )
