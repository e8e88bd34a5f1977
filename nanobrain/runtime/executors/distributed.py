"""Executions on `nanobrain worker` processes, through taskiq's Redis stream broker.

The API side pushes jobs onto one Redis stream read by a consumer group of workers; a worker
acknowledges a job only after the execution ended (at-least-once). Whichever process gets a job,
the database row decides who runs it (`SharedRecords.claim` is a compare-and-set), so a job
delivered twice runs once.

Each principal's share of the workers' slots is a lease in Redis (`shares.Shares`): a job whose
principal holds its whole share waits in that principal's line, and re-enters the stream when a
turn frees, so one user's backlog never holds back another's.

Workers beat into `Heartbeats`. The jobs a silent worker held are still pending on its name in the
consumer group: every process sweeps them (`DistributedExecutor.recover`), lets the runner settle
each execution (redelivered if its workflow is retry-safe, else `failed` with the reason) and
pushes again the ones to redeliver. Cancellation is a Redis pub/sub message that reaches the worker
running the execution, plus a marker for a worker that died before hearing it.

Outages. An API replica commits a new record before it pushes the job, and answers 202 only after
the push; each push also notes the execution in a sorted set, in the same transaction. A record
that stays `queued` past `stranded_after` seconds without that note was never handed to the
workers (its replica died in between, or lost Redis and answered 503): the sweep fails it
(`error.type = "not_queued"`). The job readers and acknowledgements of the workers ride out a Redis
outage (they wait and retry), and the dead-worker sweep holds off until the workers had time to
beat again after one, so an outage alone never passes a live worker for dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from taskiq.abc.broker import AckableMessage
from taskiq.kicker import AsyncKicker
from taskiq.message import BrokerMessage, TaskiqMessage
from taskiq_redis import RedisStreamBroker

from nanobrain.core.clock import utcnow
from nanobrain.core.execution import ExecutionRecord
from nanobrain.core.user import User
from nanobrain.runtime.errors import StoreUnavailable
from nanobrain.runtime.executors.base import Executor, Job, Load, Runner
from nanobrain.runtime.executors.shares import Shares
from nanobrain.runtime.heartbeats import Heartbeats
from nanobrain.runtime.outages import Unavailable, unavailable

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from nanobrain.runtime.records.base import ExecutionRecords

log = logging.getLogger(__name__)
TASK_NAME = "nanobrain.execute"
NEVER_MS = 10 * 365 * 24 * 3600 * 1000  # the broker must never reclaim jobs on its own
CANCEL_MARKER_SECONDS = 24 * 3600
RETRY_SECONDS = 0.5  # between attempts to reach Redis while it is out
PUSHED_RETENTION_MS = 7 * 24 * 3600 * 1000  # notes of pushes that no worker ever reported
NOT_QUEUED = (
    "it was never handed to the workers: the API replica that accepted it stopped, or lost "
    "Redis, before queueing it (the request was not acknowledged); it did not run"
)

# Drop the acknowledged head of the job stream: everything older than the oldest job still pending
# (delivered, not yet acknowledged) or, with none pending, than the last one delivered.
_TRIM = """
local oldest = nil
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
if pending[1] > 0 then
  oldest = pending[2]
else
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    for i = 1, #group, 2 do
      if group[i] == 'name' and group[i + 1] == ARGV[1] then
        for j = 1, #group, 2 do
          if group[j] == 'last-delivered-id' then oldest = group[j + 1] end
        end
      end
    end
  end
end
if oldest then return redis.call('XTRIM', KEYS[1], 'MINID', oldest) end
return 0
"""

# The stream's backlog for `load`: {now ms, undelivered, delivered and not acknowledged, the
# first undelivered job's push time in ms (-1: none)}.
_BACKLOG = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if type(groups) ~= 'table' or groups.err then return {now, 0, 0, -1} end
local lag, pending, last = false, 0, '0-0'
for _, group in ipairs(groups) do
  local fields = {}
  for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
  if fields['name'] == ARGV[1] then
    lag, pending, last = fields['lag'], fields['pending'], fields['last-delivered-id']
  end
end
local head = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
if not lag then lag = #redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 10000) end
local first = -1
if head[1] then first = tonumber(string.match(head[1][1], '^(%d+)')) end
return {now, lag, pending, first}
"""


def job_payload(job: Job) -> dict[str, Any]:
    return {
        "execution_id": job.execution_id,
        "kind": job.kind,
        "name": job.name,
        "input": job.input,
        "session_id": job.session_id,
        "history": job.history,
        "user": {
            "id": job.user.id,
            "username": job.user.username,
            "role": job.user.role,
            "permissions": sorted(job.user.permissions),
        },
    }


def job_from_payload(payload: dict[str, Any]) -> Job:
    user = payload["user"]
    return Job(
        execution_id=payload["execution_id"],
        kind=payload["kind"],
        name=payload["name"],
        input=payload["input"],
        session_id=payload["session_id"],
        history=payload.get("history"),
        user=User(
            id=user["id"],
            username=user["username"],
            role=user["role"],
            permissions=frozenset(user["permissions"]),
        ),
    )


class _StreamBroker(RedisStreamBroker):
    """taskiq's stream broker, made to ride out a Redis outage: its reader (whose error would end
    the worker's receiver, and the worker) waits and reads again, recreating the consumer group
    if Redis lost it; acknowledgements are retried; and each push notes its execution in the
    `pushed` sorted set in the same transaction as the job (see `DistributedExecutor`)."""

    def __init__(self, *args: Any, pushed: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pushed = pushed

    async def kick(self, message: BrokerMessage) -> None:
        execution_id = message.labels.get("execution_id")
        redis = Redis(connection_pool=self.connection_pool)
        async with redis, redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.queue_name, {b"data": message.message})
            if execution_id:
                pipe.zadd(self.pushed, {execution_id: int(time.time() * 1000)})
            await pipe.execute()

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        failing = False
        while True:
            try:
                async with contextlib.aclosing(super().listen()) as messages:
                    async for message in messages:
                        if failing:
                            log.warning("reading jobs from Redis again")
                            failing = False
                        yield _patient_ack(message)
            except RedisError as exc:
                lost_group = isinstance(exc, ResponseError) and "NOGROUP" in str(exc)
                if not lost_group and unavailable(exc) is None:
                    raise
                if not failing:
                    log.warning("reading jobs from Redis failed (%s); retrying", exc)
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                if lost_group:  # Redis lost its data: the group goes with it
                    with contextlib.suppress(RedisError):
                        await self._declare_consumer_group()


def _patient_ack(message: AckableMessage) -> AckableMessage:
    """The message with an acknowledgement that waits out a Redis outage (an unacknowledged job
    would stay pending on a live worker, and hold the stream's trimming back, for ever)."""
    ack = message.ack

    async def patient() -> None:
        while True:
            try:
                result = ack()
                if result is not None:
                    await result
                return
            except RedisError as exc:
                if unavailable(exc) is None:
                    raise
                await asyncio.sleep(RETRY_SECONDS)

    return AckableMessage(data=message.data, ack=patient)


class JobQueue:
    """The taskiq stream broker, and the few stream operations recovery needs besides."""

    def __init__(
        self,
        redis_url: str,
        redis: Redis,
        prefix: str,
        consumer: str | None = None,
        *,
        batch: int = 8,
        **connection: Any,
    ):
        self.stream = f"{prefix}:jobs"
        self.group = f"{prefix}:workers"
        self.pushed = f"{prefix}:jobs:pushed"
        self.broker = _StreamBroker(
            redis_url,
            pushed=self.pushed,
            queue_name=self.stream,
            consumer_group_name=self.group,
            consumer_name=consumer,
            consumer_id="0",  # a group created after jobs were pushed still gets them
            idle_timeout=NEVER_MS,
            xread_block=1000,
            xread_count=batch,  # jobs one read takes: small, so that idle workers get theirs
            # taskiq's lock around its (unused) reclaim: without a timeout, a worker killed or
            # cut off while holding it would stop every worker's reads for good.
            unacknowledged_lock_timeout=30,
            **connection,
        )
        self._redis = redis
        self._trim = redis.register_script(_TRIM)
        self._backlog = redis.register_script(_BACKLOG)

    async def start(self) -> None:
        await self.broker.startup()

    async def close(self) -> None:
        await self.broker.shutdown()

    async def push(self, job: Job) -> None:
        labels = {"execution_id": job.execution_id}
        kicker: Any = AsyncKicker(TASK_NAME, self.broker, labels)  # a task the workers define
        await kicker.kiq(job_payload(job))

    async def pushed_of(self, execution_ids: list[str]) -> set[str]:
        """Those of the executions whose job was pushed (and not yet reported done)."""
        if not execution_ids:
            return set()
        scores = await self._redis.zmscore(self.pushed, execution_ids)
        return {id_ for id_, score in zip(execution_ids, scores, strict=True) if score is not None}

    async def done(self, *execution_ids: str) -> None:
        """Forget the pushes of jobs that a worker took (claimed, or ended, by now)."""
        await self._redis.zrem(self.pushed, *execution_ids)

    async def forget_old_pushes(self) -> None:
        now_ms = int(time.time() * 1000)
        await self._redis.zremrangebyscore(self.pushed, "-inf", now_ms - PUSHED_RETENTION_MS)

    def encode(self, job: Job) -> bytes:
        """The job as `push` puts it on the stream (parked jobs re-enter it as they are)."""
        message = TaskiqMessage(
            task_id=self.broker.id_generator(),
            task_name=TASK_NAME,
            labels={},
            labels_types={},
            args=[job_payload(job)],
            kwargs={},
        )
        return self.broker.formatter.dumps(message).message

    def decode(self, message: bytes) -> Job | None:
        """A job as `encode` made it (None: not one)."""
        try:
            return job_from_payload(self.broker.formatter.loads(message).args[0])
        except Exception:
            return None

    async def backlog(self) -> tuple[int, int, int, int]:
        """(Redis time in ms, jobs not yet delivered, delivered and not acknowledged, when the
        first undelivered one was pushed in ms or -1)."""
        now, lag, pending, first = await self._backlog(keys=[self.stream], args=[self.group])
        return int(now), int(lag), int(pending), int(first)

    async def pending_of(self, consumer: str) -> list[tuple[bytes, Job | None]]:
        """The jobs delivered to `consumer` and not acknowledged (None: unreadable, trimmed)."""
        entries: Any = await self._redis.xpending_range(
            self.stream, self.group, min="-", max="+", count=10_000, consumername=consumer
        )
        jobs: list[tuple[bytes, Job | None]] = []
        for entry in entries:
            message_id = entry["message_id"]
            found: Any = await self._redis.xrange(self.stream, min=message_id, max=message_id)
            job = None
            if found:
                with contextlib.suppress(Exception):
                    message = self.broker.formatter.loads(found[0][1][b"data"])
                    job = job_from_payload(message.args[0])
            jobs.append((message_id, job))
        return jobs

    async def ack(self, message_id: bytes) -> None:
        await self._redis.xack(self.stream, self.group, message_id)

    async def forget(self, consumer: str) -> None:
        await self._redis.xgroup_delconsumer(self.stream, self.group, consumer)

    async def trim(self) -> None:
        await self._trim(keys=[self.stream], args=[self.group])


class Cancellations:
    """Cancel requests: a pub/sub message for the worker running the execution now, and a marker
    that outlives a worker that died before it could act."""

    def __init__(self, redis: Redis, prefix: str):
        self._redis = redis
        self.channel = f"{prefix}:cancel"
        self._marker = f"{prefix}:cancel:"

    async def request(self, execution_id: str) -> None:
        await self._redis.set(self._marker + execution_id, b"1", ex=CANCEL_MARKER_SECONDS)
        await self._redis.publish(self.channel, execution_id)

    async def requested(self, execution_id: str) -> bool:
        return bool(await self._redis.exists(self._marker + execution_id))

    async def listen(self, on_cancel: Callable[[str], None]) -> None:
        """Call `on_cancel(execution_id)` for every request, until cancelled."""
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    async for message in pubsub.listen():
                        on_cancel(message["data"].decode())
            except RedisError:
                log.exception("listening for cancellations failed; resubscribing")
                await asyncio.sleep(0.5)


class DistributedExecutor(Executor):
    """The API side: pushes jobs, forwards cancellations, and (like every process) sweeps the
    jobs of workers presumed dead."""

    def __init__(
        self,
        queue: JobQueue,
        cancellations: Cancellations,
        heartbeats: Heartbeats,
        *,
        sweep_seconds: float,
        max_attempts: int,
        shares: Shares,
        worker_slots: int,
        stranded_after: float = 30.0,
        dependency_timeout: float = 5.0,
    ):
        self.queue = queue
        self._dependency_timeout = dependency_timeout
        self.cancellations = cancellations
        self.heartbeats = heartbeats
        self.shares = shares
        self._worker_slots = worker_slots  # each worker's max_concurrency (one configuration)
        self._sweep_seconds = sweep_seconds
        self._max_attempts = max_attempts
        self._stranded_after = stranded_after
        self._runner: Runner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._redis_failed_at = 0.0  # monotonic time this process last saw Redis fail
        self._next_stranded_check = 0.0  # a few times per `stranded_after`, not every round

    async def start(self, runner: Runner) -> None:
        self._runner = runner
        await self.queue.start()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="recovery-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.queue.close()

    async def submit(self, job: Job) -> None:
        await self.queue.push(job)

    async def admit(
        self,
        record: ExecutionRecord,
        job: Job | None,
        records: ExecutionRecords,
        *,
        durable: bool,
        run_here: bool,
    ) -> None:
        """Commit the record and its first events (a worker may take the job at once, and must
        find both), then push the job, all within `dependency_timeout`, whatever `durable` and
        `run_here` say. If the database or Redis fails that, the request is refused (503) and
        the execution does not run: its record is failed (by a compare-and-set if it was
        committed, else with the next batch the database takes; the stranded-execution sweep is
        the last resort, `settle_stranded`)."""
        stored = asyncio.ensure_future(records.flush())
        try:
            async with asyncio.timeout(self._dependency_timeout):
                await asyncio.gather(stored, records.publisher.bus.flush())
                if job is not None:
                    await self.submit(job)
        except Exception as exc:
            committed = stored.done() and not stored.cancelled() and stored.exception() is None
            stored.cancel()
            dependency = unavailable(exc) or (
                ("redis" if committed else "database") if isinstance(exc, TimeoutError) else None
            )
            if dependency is None:
                raise
            error = {"type": "unavailable", "message": _refusal(dependency)}
            with contextlib.suppress(Exception):  # else the stranded sweep fails it later
                async with asyncio.timeout(self._dependency_timeout):
                    await records.refuse(record, error, committed=committed)
            if isinstance(exc, StoreUnavailable):
                raise  # with the writer's own Retry-After
            raise Unavailable(dependency) from exc

    def abort(self, execution_id: str) -> None:
        """Nothing: a worker's run goes on, its later changes of the final record dropped."""

    async def cancel(self, execution_id: str) -> bool:
        await self.cancellations.request(execution_id)
        return True  # its worker interrupts it, or recovery settles it if that worker is gone

    @property
    def active(self) -> int:
        return 0  # executions run on workers

    async def check(self) -> dict[str, Any]:
        workers = await self.heartbeats.alive()
        load = (await self.load(workers)).as_dict()
        return {"status": "ok" if workers else "down", "workers": workers, **load}

    async def load(self, workers: int | None = None) -> Load:
        """From the queue: running = leases held by workers; queued = jobs not yet delivered,
        delivered but not started, and parked in their principals' lines."""
        if workers is None:
            workers = await self.heartbeats.alive()
        now, undelivered, delivered, first = await self.queue.backlog()
        running = await self.shares.running()
        parked = await self.shares.parked()
        oldest = [ms for ms in (first, parked.oldest_ms) if ms is not None and ms >= 0]
        return Load(
            running=running,
            capacity=workers * self._worker_slots,
            queued=undelivered + max(0, delivered - running) + parked.count,
            oldest_queued_seconds=max(0, now - min(oldest)) / 1000 if oldest else 0.0,
        )

    async def recover(self) -> int:
        """Settle the jobs of every worker presumed dead, and the executions that were never
        queued; return how many were settled."""
        assert self._runner is not None
        if not await self.heartbeats.sweep_turn(self._sweep_seconds):
            return 0  # another process sweeps this round
        settled = await self.settle_stranded()
        if await self._after_outage():
            return settled  # the workers' heartbeats may be stale: judge them next round
        for worker in await self.heartbeats.dead():
            reason = f"its worker {worker} stopped (no heartbeat for {self.heartbeats.timeout:g} s)"
            for message_id, job in await self.queue.pending_of(worker):
                if job is not None:
                    await self.hand_over(job, reason, holder=worker)
                await self.queue.ack(message_id)
                settled += 1
            settled += await self._recover_leases(worker, reason)
            await self.queue.forget(worker)
            await self.heartbeats.forget(worker)
        await self.queue.trim()
        return settled

    async def hand_over(self, job: Job, reason: str, *, holder: str) -> None:
        """Settle a job its worker (`holder`) will not finish (`reason` says why): queued again
        for another worker if its workflow is retry-safe and has attempts left, else ended
        (cancelled if that was asked for, or failed with the reason). The job is pushed again
        before its delivery is acknowledged, so a crash in between duplicates it (the claim then
        refuses the copy) rather than losing it. The worker's lease goes with it: pushed again
        together with the job as its reserved turn, or released."""
        again = await self._settle(job, reason)
        message = self.queue.encode(job)
        if not await self.shares.hand_back(job, holder, again=again, message=message) and again:
            await self.queue.push(job)

    async def _recover_leases(self, worker: str, reason: str) -> int:
        """The jobs a dead worker still held leases for once its pending deliveries are settled:
        deliveries it went on with after recovery had already taken their pending entries (it
        was presumed dead while still alive)."""
        settled = 0
        for execution_id, user, message in await self.shares.leased_jobs(worker):
            job = self.queue.decode(message) if message is not None else None
            if job is None or job.execution_id != execution_id:  # unreadable: free its turn
                job = Job(execution_id, "", "", {}, user)
                await self.shares.hand_back(job, worker, again=False, message=b"")
            else:
                await self.hand_over(job, reason, holder=worker)
            settled += 1
        return settled

    async def _settle(self, job: Job, reason: str) -> bool:
        assert self._runner is not None
        cancelled = await self.cancellations.requested(job.execution_id)
        return await self._runner.recover(
            job, reason, max_attempts=self._max_attempts, cancelled=cancelled
        )

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                settled = await self.recover()
            except Exception as exc:
                dependency = unavailable(exc)
                if isinstance(exc, RedisError) or dependency == "redis":
                    self._redis_failed_at = time.monotonic()
                if dependency is not None:
                    log.warning("recovery sweep skipped: %s unavailable (%s)", dependency, exc)
                else:
                    log.exception("recovering the jobs of dead workers failed; retrying")
                continue
            if settled:
                log.warning("settled %d job(s) of workers that stopped", settled)

    # -- outages -------------------------------------------------------------------------------
    async def settle_stranded(self) -> int:
        """Fail the executions that stayed `queued` past `stranded_after` seconds without ever
        being pushed (the push notes each execution, atomically with its job); return how many.
        Their requests were never acknowledged: nobody holds their id, and a client that was
        refused may have sent them again, so they end rather than run late."""
        assert self._runner is not None
        now = time.monotonic()
        if now < self._next_stranded_check:
            return 0
        self._next_stranded_check = now + max(self._sweep_seconds, self._stranded_after / 4)
        await self.queue.forget_old_pushes()
        cutoff = utcnow() - timedelta(seconds=self._stranded_after)
        candidates = await self._runner.never_started(cutoff)
        if not candidates:
            return 0
        pushed = await self.queue.pushed_of(candidates)
        failed = 0
        for execution_id in candidates:
            if execution_id in pushed:
                continue  # waiting in the queue, behind others
            if await self._runner.fail_unqueued(execution_id, NOT_QUEUED):
                failed += 1
                log.warning("execution %s was never queued: failed", execution_id)
        return failed

    async def _after_outage(self) -> bool:
        """True while the workers may not have beaten since Redis came back (a restarted Redis,
        or one this process could not reach, within a worker timeout): a silence then is the
        outage's, not the workers'."""
        window = self.heartbeats.timeout + self._sweep_seconds
        if time.monotonic() - self._redis_failed_at < window:
            return True
        uptime = (await self.heartbeats.redis_info()).get("uptime_in_seconds", window)
        return float(uptime) < window


def _refusal(dependency: str) -> str:
    return f"not run: the {dependency} was unavailable when it was submitted (answered 503)"
