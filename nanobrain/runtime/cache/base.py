"""The result cache interface and its keys."""

from __future__ import annotations

import functools
import hashlib
from abc import ABC, abstractmethod
from typing import Any

import orjson
from pydantic import BaseModel

from nanobrain.core import jsoncodec
from nanobrain.core.spec import Runnable


class ResultCache(ABC):
    def __init__(self, default_ttl: float):
        self.default_ttl = default_ttl

    def ttl(self, runnable: Runnable) -> float:
        """`cache=True` takes `cache_config.ttl_seconds`; `cache=<seconds>` its own."""
        return self.default_ttl if runnable.cache is True else float(runnable.cache)

    @abstractmethod
    async def get(self, key: str) -> tuple[bool, Any]:
        """`(True, output)` for a live entry, else `(False, None)`."""

    @abstractmethod
    async def set(self, key: str, output: Any, ttl: float) -> None: ...


@functools.cache
def fingerprint(runnable: Runnable) -> str:
    """Changes whenever the workflow's code, schemas or declared version change."""
    code = getattr(runnable.fn, "__code__", None)
    parts = [
        runnable.kind,
        runnable.name,
        runnable.version,
        orjson.dumps(runnable.input_schema, option=orjson.OPT_SORT_KEYS).decode(),
        orjson.dumps(runnable.output_schema, option=orjson.OPT_SORT_KEYS).decode(),
        code.co_code.hex() if code is not None else "",
        repr(code.co_consts) if code is not None else "",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def result_key(runnable: Runnable, owner_id: str, validated: BaseModel) -> str:
    """Workflow version and fingerprint, the owner (a result may depend on who asks), and the
    canonical input: validated, defaults filled in, keys sorted."""
    canonical = jsoncodec.dumps(validated.model_dump(mode="json"), orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(owner_id.encode() + b"\0" + canonical).hexdigest()
    return f"{runnable.name}:{runnable.version}:{fingerprint(runnable)}:{digest}"
