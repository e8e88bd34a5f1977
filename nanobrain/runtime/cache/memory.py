"""Result cache in this process's memory (embedded mode), bounded, oldest entries out first."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from nanobrain.runtime.cache.base import ResultCache


class MemoryResultCache(ResultCache):
    def __init__(self, default_ttl: float, max_entries: int = 10_000):
        super().__init__(default_ttl)
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        expires, output = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return False, None
        return True, output

    async def set(self, key: str, output: Any, ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, output)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
