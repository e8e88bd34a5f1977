"""Running the app under uvicorn with a drain step: on shutdown, streams are told to reconnect
(SSE `reconnect` event, WebSocket close 1012) before uvicorn closes the connections."""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.web.app import create_api, wrap
from nanobrain.web.state import AppState


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, api: FastAPI, drain_seconds: float):
        super().__init__(config)
        self.api = api
        self.drain_seconds = drain_seconds

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state: AppState | None = getattr(self.api.state, "nanobrain", None)
        if state is not None:
            await state.drain(self.drain_seconds)
        await super().shutdown(sockets)


def serve(settings: Settings, registry: Registry, **options: Any) -> None:
    """Serve until a signal stops the server; `options` are uvicorn's."""
    api = create_api(settings, registry)
    config = uvicorn.Config(wrap(api, settings), **options)
    DrainingServer(config, api, settings.realtime.drain_seconds).run()
