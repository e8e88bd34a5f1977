"""A `nanobrain worker` process: takes jobs from the queue and runs them through the runner.

It runs at most `max_concurrency` executions at once (taskiq's receiver, acknowledging each job
after its execution ended), each only with its principal's lease (`executors.shares`: a job whose
user holds its share is parked in that user's line, and the worker goes on with other work),
interrupts one when a cancellation for it arrives from any replica, beats while alive, and takes
its turn settling the jobs of workers that stopped beating.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

from redis.exceptions import RedisError
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.observability.metrics_server import start_metrics_server
from nanobrain.runtime.assembly import Assembly, assemble
from nanobrain.runtime.executors.base import HANDOVER, USER_CANCEL, Job
from nanobrain.runtime.executors.distributed import TASK_NAME, DistributedExecutor, job_from_payload
from nanobrain.runtime.executors.shares import Reconciler, Turn
from nanobrain.runtime.outages import OUTAGE_RETRY_SECONDS, unavailable

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        name: str | None = None,
        *,
        metrics: tuple[str, int] | None = None,
    ):
        if not settings.distributed:
            raise ValueError(
                "a worker needs runtime.mode distributed (NANOBRAIN_RUNTIME__MODE), with "
                "redis_url and a PostgreSQL database_url"
            )
        self.name = name or worker_name()
        self.settings = settings
        self.assembly: Assembly = assemble(settings, registry, worker=self.name)
        self.runtime = self.assembly.runtime
        executor = self.runtime.executions.executor
        assert isinstance(executor, DistributedExecutor)
        self.executor = executor
        self.runner = self.runtime.executions.runner
        self._metrics = metrics  # (host, port) to serve Prometheus metrics on
        self._running: dict[asyncio.Task[Any], Job] = {}  # a job delivered twice runs twice here
        self._idle = asyncio.Event()  # nothing running
        self._taken: list[str] = []  # executions whose push note is to be dropped

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then finish (or, past the grace period, interrupt) what
        runs, and leave."""
        config = self.settings.runtime
        await self.assembly.start()  # as the server does at start-up
        heartbeats = self.executor.heartbeats
        background: list[asyncio.Task[None]] = []
        try:
            await heartbeats.beat(self.name)
            background += [
                asyncio.create_task(self._beat_forever(config.heartbeat_seconds)),
                asyncio.create_task(self.executor.cancellations.listen(self._cancel_for_user)),
            ]

            async def execute(payload: dict[str, Any]) -> None:
                await self._execute(payload)

            broker = self.executor.queue.broker
            broker.register_task(execute, task_name=TASK_NAME)
            receiver = Receiver(
                broker,
                max_async_tasks=config.max_concurrency,
                run_startup=False,
                ack_type=AcknowledgeType.WHEN_EXECUTED,
                wait_tasks_timeout=config.shutdown_grace_seconds,
            )
            if self._metrics is not None:
                host, port = self._metrics
                token = self.settings.web_interface.monitoring.metrics_token
                start_metrics_server(host, port, token.get_secret_value() if token else None)
            log.info("worker %s takes jobs (up to %d at once)", self.name, config.max_concurrency)
            await receiver.listen(stop)
            # What still runs after the grace period goes to another worker if it may run
            # again (else it ends failed, saying why), without waiting for the heartbeat timeout.
            for job in list(self._running.values()):
                self._interrupt(job.execution_id, HANDOVER)
            if self._running:  # their jobs are acknowledged as they end
                self._idle.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), config.shutdown_grace_seconds)
            if not self._running:  # else recovery settles what is left once the beats stop
                await heartbeats.forget(self.name)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self.assembly.close()
        log.info("worker %s stopped", self.name)

    async def _execute(self, payload: dict[str, Any]) -> None:
        """The taskiq task: run one job to a final state (never raises), once its principal's
        share allows; else it waits in the principal's line and this worker takes other work."""
        job = job_from_payload(payload)
        task = asyncio.current_task()
        assert task is not None
        self._running[task] = job
        try:
            turn = await self._take_turn(job)
            if turn is Turn.PARKED:
                return  # waits in its principal's line; this worker takes other work
            try:
                if job.cancel_reason is not None:  # interrupted while taking its turn
                    raise asyncio.CancelledError
                await self._run_through_outages(job)
            except asyncio.CancelledError:  # interrupted before the runner reached the workflow
                if job.cancel_reason != HANDOVER:
                    with contextlib.suppress(Exception):
                        await self.runner.abandon(job, job.cancel_reason or USER_CANCEL)
            while task.cancelling():  # the cancel was meant for the execution, not for taskiq
                task.uncancel()
            if job.cancel_reason == HANDOVER:
                reason = f"its worker {self.name} shut down"
                await self.executor.hand_over(job, reason, holder=self.name)
            elif turn is Turn.TAKEN:  # a lost release is healed by the heartbeat's reconciliation
                released = asyncio.ensure_future(self.executor.shares.release(job, self.name))
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(released)
        except Exception:
            log.exception("job %s could not be run", job.execution_id)
        finally:
            del self._running[task]
            if not self._running:
                self._idle.set()
            while task.cancelling():
                task.uncancel()

    async def _run_through_outages(self, job: Job) -> None:
        """Run the job; when the database or Redis is out before its outcome is recorded (the
        claim failed, say), wait and run it again: the claim is a compare-and-set, so a job
        that was taken after all is not run twice. The outcome itself is recorded patiently by
        the runner. Then the job's push note can go (it cannot be stranded any more)."""
        while True:
            try:
                await self.runner.run(job)
                break
            except Exception as exc:
                dependency = unavailable(exc)
                if dependency is None:
                    raise
                log.warning("job %s waits for the %s (%s)", job.execution_id, dependency, exc)
                await asyncio.sleep(OUTAGE_RETRY_SECONDS)
        self._taken.append(job.execution_id)  # forgotten in one batch with the next heartbeat

    async def _take_turn(self, job: Job) -> Turn:
        """Whether this worker runs `job` under its principal's lease (TAKEN), leaves it in line
        (PARKED), or runs a copy of an execution another delivery holds the lease for
        (DUPLICATE: without a lease, the claim decides, as for any job delivered twice). A
        cancel arriving meanwhile does not cut a decision short (it would leave a lease nobody
        knows of): it is acted on next, from `job.cancel_reason`. While Redis cannot answer, the
        job keeps its delivery (taskiq acknowledges it only when this returns) and asks again;
        a cancelled one is left to its cancellation."""
        shares = self.executor.shares
        message = self.executor.queue.encode(job)
        delay = 0.25
        while True:
            decided = asyncio.ensure_future(shares.acquire(job, self.name, message))
            try:
                while True:
                    try:
                        return await asyncio.shield(decided)
                    except asyncio.CancelledError:
                        if decided.cancelled():
                            raise
            except RedisError:
                if job.cancel_reason is not None:
                    return Turn.PARKED  # nothing to run: acknowledged, its record is settled
                log.exception("asking for a turn for job %s failed; retrying", job.execution_id)
            with contextlib.suppress(asyncio.CancelledError):  # a cancel: the next round ends it
                await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _cancel_for_user(self, execution_id: str) -> None:
        self._interrupt(execution_id, USER_CANCEL)

    def _interrupt(self, execution_id: str, reason: str) -> None:
        for task, job in list(self._running.items()):
            if job.execution_id == execution_id:
                if job.cancel_reason is None:
                    job.cancel_reason = reason
                task.cancel()

    async def _beat_forever(self, seconds: float) -> None:
        leases = Reconciler(self.executor.shares, self.name)
        while True:
            await asyncio.sleep(seconds)
            taken, self._taken = self._taken, []
            try:
                await self.executor.heartbeats.beat(self.name)
                if taken:
                    await self.executor.queue.done(*taken)
            except RedisError as exc:
                self._taken[:0] = taken
                log.warning("heartbeat failed (%s); retrying", exc)
                continue
            try:
                released = await leases.run_once(list(self._running.values()))
            except Exception:
                log.exception("reconciling this worker's leases failed; retrying")
            else:
                if released:
                    log.warning("released %d lease(s) of jobs no longer running here", released)
