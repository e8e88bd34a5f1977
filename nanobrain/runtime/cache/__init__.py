"""Result caching: a workflow that opts in (`@workflow(cache=True)` or `cache=<seconds>`) and is
run again by the same user with the same input gets the stored output instead of a new run.

Keys hold the workflow's name, version and a fingerprint of its code and schemas, so a changed
workflow never serves an old result (the old entries simply expire)."""

from __future__ import annotations

from redis.asyncio import Redis

from nanobrain.config import Settings
from nanobrain.runtime.cache.base import ResultCache, result_key
from nanobrain.runtime.cache.memory import MemoryResultCache
from nanobrain.runtime.cache.redis import RedisResultCache

__all__ = ["ResultCache", "build_cache", "result_key"]


def build_cache(settings: Settings, redis: Redis | None) -> ResultCache | None:
    """The cache `cache_config` enables: on Redis when `redis_url` is set (shared by replicas and
    workers), else in this process's memory."""
    config = settings.web_interface.cache_config
    if not config.enabled:
        return None
    if redis is not None:
        return RedisResultCache(redis, settings.redis_prefix, config.ttl_seconds)
    return MemoryResultCache(config.ttl_seconds)
