"""The server entry point: the app under uvicorn, tuned for a long-lived process.

Two things happen here and nowhere else: the process's garbage collector is tuned once the app
has started (an app mounted elsewhere leaves the host process as it is), and on shutdown streams
are told to reconnect (SSE `reconnect` event, WebSocket close 1012) before uvicorn closes the
connections."""

from __future__ import annotations

import gc
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.web.app import create_api, wrap
from nanobrain.web.state import AppState


def tune_garbage_collector() -> None:
    """Everything built so far (imported libraries, the registry, schemas, the app's state)
    lives as long as the process: move it out of the collector's way, so full collections under
    load only scan what requests create (it shortens the no-op execute's tail latency several
    times over). Requests allocate many short-lived containers: collect the young generation
    less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, api: FastAPI, drain_seconds: float):
        super().__init__(config)
        self.api = api
        self.drain_seconds = drain_seconds

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # runs the app's lifespan: its state is built
        if not self.should_exit:
            tune_garbage_collector()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state: AppState | None = getattr(self.api.state, "nanobrain", None)
        if state is not None:
            await state.drain(self.drain_seconds)
        await super().shutdown(sockets)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves NanoBrain: uvloop and httptools, NanoBrain's logging and access log,
    forwarded headers from the configured proxies only, TLS when configured."""
    server = settings.web_interface.server_config
    ssl = settings.web_interface.ssl_config
    ssl_options: dict[str, Any] = (
        {"ssl_certfile": str(ssl.cert_file), "ssl_keyfile": str(ssl.key_file)}
        if ssl.enabled
        else {}
    )
    return {
        "host": server.host,
        "port": server.port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": settings.web_interface.monitoring.log_level,
        # Logging as `configure_logging` set it up; NanoBrain's access log replaces uvicorn's.
        "log_config": None,
        "access_log": False,
        # X-Forwarded-* are believed from the configured proxies only (uvicorn's default
        # would believe any loopback peer).
        "proxy_headers": bool(server.forwarded_allow_ips),
        "forwarded_allow_ips": server.forwarded_allow_ips,
        "timeout_graceful_shutdown": settings.runtime.shutdown_grace_seconds + 5,
        "ws_max_size": settings.web_interface.limits.max_body_bytes,
        **ssl_options,
    }


def serve(settings: Settings, registry: Registry, **options: Any) -> None:
    """Serve until a signal stops the server; `options` override `uvicorn_options`."""
    api = create_api(settings, registry)
    config = uvicorn.Config(wrap(api, settings), **{**uvicorn_options(settings), **options})
    DrainingServer(config, api, settings.realtime.drain_seconds).run()
