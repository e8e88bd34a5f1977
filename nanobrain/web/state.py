"""What a running app holds: settings, registry and services, built once in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.routing.analyzer import RequestAnalyzer
from nanobrain.runtime.chat import ChatService
from nanobrain.runtime.files import FileService
from nanobrain.runtime.service import ExecutionService
from nanobrain.security.services import SecurityServices
from nanobrain.web.stream_caps import StreamCaps

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection


@dataclass
class AppState:
    settings: Settings
    registry: Registry
    engine: AsyncEngine
    executions: ExecutionService
    files: FileService
    analyzer: RequestAnalyzer
    security: SecurityServices
    chat: ChatService
    close: Callable[[], Awaitable[None]]  # stops the runtime, closes its connections
    # readies the store, recovers what a stopped process left; how many it marked failed
    start: Callable[[], Awaitable[int]]
    redis: Redis | None = None  # distributed mode
    ready: bool = False
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    streams: int = 0  # open SSE streams and WebSockets
    stream_caps: StreamCaps = field(default_factory=lambda: StreamCaps({}))  # per principal
    no_streams: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted_at_start: int = 0
    extras: dict[str, object] = field(default_factory=dict)

    async def drain(self, seconds: float) -> None:
        """Tell every stream the server is going away (each ends with `reconnect`), and give
        them up to `seconds` to finish before the server closes connections."""
        self.ready = False
        self.draining.set()
        self.executions.bus.interrupt()
        if self.streams:
            self.no_streams.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.no_streams.wait(), seconds)

    def stream_opened(self) -> None:
        self.streams += 1

    def stream_closed(self) -> None:
        self.streams -= 1
        if not self.streams:
            self.no_streams.set()


def app_state(connection: HTTPConnection) -> AppState:
    state: AppState | None = connection.scope.get("nanobrain")  # set by the lean front door
    return state if state is not None else connection.app.state.nanobrain
