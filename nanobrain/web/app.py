"""The application factory: wires settings, registry, store and runtime into a FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp

from nanobrain import __version__
from nanobrain.config import Settings
from nanobrain.core.registry import Registry
from nanobrain.runtime.assembly import assemble
from nanobrain.security.accounts import bootstrap_admin
from nanobrain.security.services import SecurityServices
from nanobrain.store.private import private_directory
from nanobrain.web import openapi, problems
from nanobrain.web.lean import LeanFrontDoor, LeanTable
from nanobrain.web.mcp import MCPApp
from nanobrain.web.middleware import (
    BodyLimitMiddleware,
    CrossOriginOnly,
    ProblemOnError,
    RequestContext,
    RequestContextMiddleware,
)
from nanobrain.web.routers import (
    admin,
    audit,
    auth,
    catalog,
    chat,
    executions,
    files,
    openai_compat,
    route,
    users,
    workflows,
    ws,
)
from nanobrain.web.state import AppState
from nanobrain.web.stream_caps import StreamCaps
from nanobrain.web.ui import with_ui

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
ROUTERS = [
    module.router
    for module in (
        workflows,
        executions,
        files,
        catalog,
        chat,
        admin,
        route,
        ws,
        auth,
        users,
        audit,
    )
]
FLUSH_SECONDS = 1.0


def build_state(settings: Settings, registry: Registry) -> AppState:
    """Everything a running app holds: the assembly (`runtime.assembly`) plus the web's own
    parts. Raises `StorageKeyError` when the configured encryption keys cannot serve the
    stored data."""
    assembly = assemble(settings, registry)
    runtime, security = assembly.runtime, assembly.security
    assert security is not None  # an API process has them
    config = settings.runtime
    stream_caps = StreamCaps(
        config.fair_share.stream_limits(),
        runtime.redis,
        settings.redis_prefix,
        beat_seconds=config.heartbeat_seconds,
        timeout_seconds=config.worker_timeout_seconds,
    )

    async def close() -> None:
        await assembly.stop()
        await stream_caps.close()
        await assembly.release()

    return AppState(
        settings=settings,
        registry=runtime.registry,
        engine=runtime.engine,
        executions=runtime.executions,
        files=runtime.files,
        analyzer=runtime.analyzer,
        redis=runtime.redis,
        close=close,
        start=assembly.start,
        security=security,
        chat=runtime.chat,
        stream_caps=stream_caps,
    )


async def _flush_periodically(security: SecurityServices, stopping: asyncio.Event) -> None:
    """Until `stopping` is set; never cancelled, since a write cut off mid-transaction would
    leave its connection holding SQLite's write lock (the final flush would then wait for it)."""
    failures = 0
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), FLUSH_SECONDS)
        try:
            await security.flush()
        except Exception as exc:
            failures += 1
            if failures == 1 or failures % 60 == 0:  # a line a minute while the outage lasts
                log.error(
                    "could not write the audit log (%s, %d attempt(s)); will retry",
                    type(exc).__name__,
                    failures,
                )
        else:
            failures = 0


def create_api(settings: Settings, registry: Registry) -> FastAPI:
    """The FastAPI app: routes, problem handlers, OpenAPI, and the lifespan that builds the
    state (migrations, recovery of executions a dead process left unfinished)."""
    private_directory(settings.data_dir)

    mcp = MCPApp()

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings, registry)
        api.state.nanobrain = state
        # The OpenAPI document describes what is served: the registry with the runtime's
        # built-ins (until now it could only describe the registry given).
        openapi.install(api, state.registry)
        state.interrupted_at_start = await state.start()
        await bootstrap_admin(state.security.users, os.environ)
        await state.stream_caps.start()
        stopping = asyncio.Event()
        flusher = asyncio.create_task(_flush_periodically(state.security, stopping))
        state.ready = True
        try:
            async with mcp.running():
                yield
        finally:
            state.ready = False
            stopping.set()
            await flusher
            await state.close()

    api = FastAPI(
        title="NanoBrain",
        version=__version__,
        description="Every registered workflow as a typed REST API with jobs, events and files.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        root_path=settings.web_interface.server_config.root_path,
    )
    for router in ROUTERS:
        api.include_router(router, prefix=API_PREFIX)
    api.include_router(openai_compat.router)
    api.router.routes.append(Route("/mcp", mcp))  # streamable HTTP has one endpoint
    problems.install(api)
    api.add_middleware(ProblemOnError)  # a 500 keeps the connection
    openapi.install(api, registry)
    return api


def create_app(settings: Settings, registry: Registry) -> ASGIApp:
    """The served ASGI app: request context, the web UI, CORS and body limits around the lean hot
    paths and the FastAPI app."""
    return wrap(create_api(settings, registry), settings)


def wrap(api: FastAPI, settings: Settings) -> ASGIApp:
    """`api` behind the middleware, and the lean front door before both."""
    app: ASGIApp = api
    web = settings.web_interface
    limits = web.limits
    app = BodyLimitMiddleware(
        app,
        max_body=limits.max_body_bytes,
        max_multipart=limits.max_upload_bytes + limits.max_body_bytes,
    )
    if web.cors_config.allow_origins:
        cors = CORSMiddleware(
            app,
            allow_origins=web.cors_config.allow_origins,
            allow_credentials=web.cors_config.allow_credentials,
            allow_methods=web.cors_config.allow_methods,
            allow_headers=web.cors_config.allow_headers,
            expose_headers=[
                "X-Request-ID",
                "Location",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
        app = CrossOriginOnly(app, cors)
    app = with_ui(app, root_path=web.server_config.root_path)
    context = RequestContext(
        prefix=API_PREFIX, metrics=web.monitoring.enabled, access_log=web.monitoring.access_log
    )
    app = RequestContextMiddleware(app, context)
    lean_routes = LeanTable(ROUTERS, API_PREFIX)
    return LeanFrontDoor(app, api, lean_routes, context, max_body=limits.max_body_bytes)
