"""Builds the runtime the configuration asks for (`runtime.mode`): embedded (SQLite or any
database, in-process executor and event bus) or distributed (Redis event streams, taskiq workers,
records shared through PostgreSQL). Everything above `ExecutionService` is the same. A `redis_url`
alone does not switch modes: an embedded server may use Redis for rate limits and the cache.

Every client of a backing service is bounded by `runtime.dependency_timeout_seconds`, so an
outage fails requests fast (503) instead of holding them, and reconnects on its own afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.crypto.keyring import KeyRing
from nanobrain.llm.factory import provider_from_settings
from nanobrain.routing.analyzer import LexicalAnalyzer, RequestAnalyzer
from nanobrain.runtime import agents
from nanobrain.runtime.assistant import NAME as ASSISTANT
from nanobrain.runtime.assistant import assistant_runnable, is_builtin
from nanobrain.runtime.cache import ResultCache, build_cache
from nanobrain.runtime.chat import ChatService
from nanobrain.runtime.events.base import EventBus
from nanobrain.runtime.events.memory import MemoryEventBus
from nanobrain.runtime.events.redis import BLOCKING_READ_SECONDS, RedisEventBus
from nanobrain.runtime.executors.base import Executor
from nanobrain.runtime.executors.distributed import Cancellations, DistributedExecutor, JobQueue
from nanobrain.runtime.executors.local import LocalExecutor
from nanobrain.runtime.executors.shares import Shares
from nanobrain.runtime.files import FileService
from nanobrain.runtime.heartbeats import Heartbeats
from nanobrain.runtime.records.base import ExecutionRecords
from nanobrain.runtime.records.distributed import SharedRecords
from nanobrain.runtime.records.local import LocalRecords
from nanobrain.runtime.service import ExecutionService
from nanobrain.security.directory import UserDirectory
from nanobrain.store.chat import ChatRepository
from nanobrain.store.database import create_engine
from nanobrain.store.encrypted_blobs import open_blob_store
from nanobrain.store.executions import ExecutionRepository
from nanobrain.store.files import FileRepository
from nanobrain.store.users import UserRepository


@dataclass
class Runtime:
    registry: Registry  # what it serves: the given registry plus the built-ins (`assistant`)
    engine: AsyncEngine
    files: FileService
    executions: ExecutionService
    chat: ChatService
    analyzer: RequestAnalyzer
    redis: Redis | None = None

    async def close(self) -> None:
        await self.executions.stop()
        await self.release()

    async def release(self) -> None:
        """Close the connections (after the executions stopped)."""
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def redis_options(settings: Settings) -> dict[str, Any]:
    """Bounded waits for every Redis connection: connecting, and each command (above the 2 s
    that the blocking reads wait), with one immediate reconnection for a connection that a
    restarted Redis dropped."""
    timeout = settings.runtime.dependency_timeout_seconds
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": max(timeout, BLOCKING_READ_SECONDS + 1),
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
        "health_check_interval": 30,
    }


def connect_redis(settings: Settings) -> Redis:
    """The Redis client (connections are made on first use, and again after an outage)."""
    assert settings.redis_url is not None
    return Redis.from_url(settings.redis_url, **redis_options(settings))


def build_runtime(settings: Settings, registry: Registry, *, worker: str | None = None) -> Runtime:
    """`worker`: the name under which a `nanobrain worker` process takes jobs. Raises
    `StorageKeyError` when the configured encryption keys cannot serve the stored data.

    `registry` is left as it is: the runtime serves a copy, with its built-ins added."""
    registry = registry.copy()
    ring = KeyRing.from_secrets(settings.storage.encryption_keys)
    blobs = open_blob_store(settings.files_dir, ring)
    config = settings.runtime
    engine = create_engine(settings.resolved_database_url, config.dependency_timeout_seconds)
    files = FileService(
        FileRepository(engine),
        blobs,
        max_upload_bytes=settings.web_interface.limits.max_upload_bytes,
        allowed_types=settings.web_interface.limits.allowed_upload_types,
    )
    redis = None if settings.redis_url is None else connect_redis(settings)
    bus: EventBus
    executor: Executor
    if not settings.distributed:
        bus = MemoryEventBus(
            max_events_per_stream=config.max_events_per_stream,
            retention_seconds=config.event_retention_seconds,
            max_streams=config.max_retained_streams,
        )
        executor = LocalExecutor(
            config.max_concurrency,
            config.shutdown_grace_seconds,
            config.fair_share.running_limits(),
        )
    else:
        assert redis is not None and settings.redis_url is not None  # Settings checks both
        prefix = settings.redis_prefix
        bus = RedisEventBus(
            redis,
            prefix,
            max_events_per_stream=config.max_events_per_stream,
            retention_seconds=config.event_retention_seconds,
            flush_timeout=config.dependency_timeout_seconds,
        )
        queue = JobQueue(
            settings.redis_url, redis, prefix, consumer=worker, **redis_options(settings)
        )
        executor = DistributedExecutor(
            queue,
            Cancellations(redis, prefix),
            Heartbeats(redis, prefix, config.worker_timeout_seconds),
            sweep_seconds=config.heartbeat_seconds,
            max_attempts=config.max_attempts,
            stranded_after=config.stranded_after_seconds,
            shares=Shares(redis, prefix, queue.stream, config.fair_share.running_limits()),
            worker_slots=config.max_concurrency,
            dependency_timeout=config.dependency_timeout_seconds,
        )
    cache: ResultCache | None = build_cache(settings, redis)
    repository = ExecutionRepository(engine, ring)
    records: ExecutionRecords
    if settings.distributed:
        # How long an outcome is retried through an outage: a worker's, until it is recorded;
        # an API replica's (a cancel), within a request's bound.
        patience = None if worker is not None else config.dependency_timeout_seconds
        records = SharedRecords(
            repository,
            bus,
            write_behind_seconds=config.write_behind_seconds,
            flush_timeout=config.flush_timeout_seconds,
            patience=patience,
        )
    else:
        records = LocalRecords(
            repository,
            bus,
            write_behind_seconds=config.write_behind_seconds,
            flush_timeout=config.flush_timeout_seconds,
        )
    service = ExecutionService(
        registry,
        records,
        bus,
        executor,
        files,
        default_timeout=config.default_timeout_seconds,
        cache=cache,
        llm=provider_from_settings(settings.llm),
    )
    auth = settings.web_interface.auth_config
    if auth.enabled:  # an agent's tool calls act as the account stands at each call
        service.accounts = UserDirectory(UserRepository(engine), auth.credential_cache_seconds)
    analyzer = LexicalAnalyzer()
    agents.install(service)
    if is_builtin(registry.workflows.get(ASSISTANT)):  # a registered `assistant` takes precedence
        registry.workflows[ASSISTANT] = assistant_runnable(service, analyzer)
    chat = ChatService(ChatRepository(engine, ring), service, settings.chat_workflow)
    return Runtime(
        registry=registry,
        engine=engine,
        files=files,
        executions=service,
        chat=chat,
        analyzer=analyzer,
        redis=redis,
    )
