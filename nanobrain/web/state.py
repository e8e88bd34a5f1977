"""What a running app holds: settings, registry and services, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.routing.analyzer import RequestAnalyzer
from nanobrain.runtime.chat import ChatService
from nanobrain.runtime.files import FileService
from nanobrain.runtime.service import ExecutionService

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
    chat: ChatService
    ready: bool = False
    interrupted_at_start: int = 0
    extras: dict[str, object] = field(default_factory=dict)


def app_state(connection: HTTPConnection) -> AppState:
    state: AppState | None = connection.scope.get("nanobrain")  # set by the lean dispatcher
    return state if state is not None else connection.app.state.nanobrain
