"""Executions on `nanobrain worker` processes, through taskiq's Redis stream broker.

The API side pushes jobs onto one Redis stream read by a consumer group of workers; a worker
acknowledges a job only after the execution ended (at-least-once). Whichever process gets a job,
the database row decides who runs it (`ExecutionRecords.claim` is a compare-and-set), so a job
delivered twice runs once.

Each principal's share of the workers' slots is a lease in Redis (`shares.Shares`): a job whose
principal holds its whole share waits in that principal's line, and re-enters the stream when a
turn frees, so one user's backlog never holds back another's.

Workers beat into `Heartbeats`. The jobs a silent worker held are still pending on its name in the
consumer group: every process sweeps them (`DistributedExecutor.recover`), lets the runner settle
each execution (redelivered if its workflow is retry-safe, else `failed` with the reason) and
pushes again the ones to redeliver. Cancellation is a Redis pub/sub message that reaches the worker
running the execution, plus a marker for a worker that died before hearing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq.kicker import AsyncKicker
from taskiq.message import TaskiqMessage
from taskiq_redis import RedisStreamBroker

from nanobrain.core.user import User
from nanobrain.runtime.executors.base import Executor, Job, Load, Runner
from nanobrain.runtime.executors.shares import Shares
from nanobrain.runtime.heartbeats import Heartbeats

log = logging.getLogger(__name__)
TASK_NAME = "nanobrain.execute"
NEVER_MS = 10 * 365 * 24 * 3600 * 1000  # the broker must never reclaim jobs on its own
CANCEL_MARKER_SECONDS = 24 * 3600

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
    ):
        self.stream = f"{prefix}:jobs"
        self.group = f"{prefix}:workers"
        self.broker = RedisStreamBroker(
            redis_url,
            queue_name=self.stream,
            consumer_group_name=self.group,
            consumer_name=consumer,
            consumer_id="0",  # a group created after jobs were pushed still gets them
            idle_timeout=NEVER_MS,
            xread_block=1000,
            xread_count=batch,  # jobs one read takes: small, so that idle workers get theirs
        )
        self._redis = redis
        self._trim = redis.register_script(_TRIM)
        self._backlog = redis.register_script(_BACKLOG)

    async def start(self) -> None:
        await self.broker.startup()

    async def close(self) -> None:
        await self.broker.shutdown()

    async def push(self, job: Job) -> None:
        kicker: Any = AsyncKicker(TASK_NAME, self.broker, {})  # a task defined by the workers
        await kicker.kiq(job_payload(job))

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

    in_process = False

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
    ):
        self.queue = queue
        self.cancellations = cancellations
        self.heartbeats = heartbeats
        self.shares = shares
        self._worker_slots = worker_slots  # each worker's max_concurrency (one configuration)
        self._sweep_seconds = sweep_seconds
        self._max_attempts = max_attempts
        self._runner: Runner | None = None
        self._sweeper: asyncio.Task[None] | None = None

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
        """Settle the jobs of every worker presumed dead; return how many were settled."""
        assert self._runner is not None
        if not await self.heartbeats.sweep_turn(self._sweep_seconds):
            return 0  # another process sweeps this round
        settled = 0
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
            except Exception:
                log.exception("recovering the jobs of dead workers failed; retrying")
                continue
            if settled:
                log.warning("settled %d job(s) of workers that stopped", settled)
