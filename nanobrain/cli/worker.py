"""`nanobrain worker`: runs executions for the API replicas (distributed mode)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from nanobrain.cli import settings as cli
from nanobrain.cli.options import (
    ConfigOption,
    DataDirOption,
    ProfileOption,
    TargetsArgument,
    console,
    fail,
)
from nanobrain.observability.logs import configure_logging
from nanobrain.security.exposure import metrics_exposure_problem


def worker(
    targets: TargetsArgument = None,
    name: Annotated[
        str | None, typer.Option(help="Unique worker name (default: host-pid-random).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port.")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface for the metrics.")] = "127.0.0.1",
    config: ConfigOption = None,
    profile: ProfileOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run executions for the API replicas (runtime.mode distributed: Redis and PostgreSQL).

    Load the same targets as `serve`. SIGTERM or Ctrl-C stops taking jobs, lets running ones
    finish for `runtime.shutdown_grace_seconds`, then interrupts the rest."""
    import signal

    import uvloop

    from nanobrain.runtime.worker import Worker

    settings = cli.settings(config, profile, data_dir)
    if not settings.distributed:
        raise fail(
            "a worker serves distributed mode: set runtime.mode to distributed "
            "(NANOBRAIN_RUNTIME__MODE), with redis_url and a PostgreSQL database_url"
        )
    exposed = metrics_exposure_problem(settings, metrics_host)
    if metrics_port is not None and exposed:
        raise fail(exposed)
    registry = cli.registry(targets, settings)
    configure_logging(settings.web_interface.monitoring.log_level)
    logging.getLogger("taskiq").setLevel(logging.WARNING)
    metrics = (metrics_host, metrics_port) if metrics_port is not None else None
    process = Worker(settings, registry, name, metrics=metrics)
    console.print(
        f"[bold]NanoBrain worker[/] {process.name}: {len(registry.workflows)} workflows, "
        f"{len(registry.tools)} tools (profile {settings.profile})"
    )

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await process.run(stop)

    uvloop.run(work())
