"""Who can reach what a process serves. Without authentication everyone is admin, so only a
loopback address may be served; metrics served beyond this machine need their token."""

from __future__ import annotations

import ipaddress

from nanobrain.config import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_problem(settings: Settings) -> str | None:
    """Why serving the API as configured would expose it, if it would."""
    if settings.web_interface.auth_config.enabled:
        return None
    host = settings.web_interface.server_config.host
    if is_loopback(host):
        return None
    return (
        f"web_interface.server_config.host is {host!r} but web_interface.auth_config.enabled "
        "is false: without authentication NanoBrain only listens on a loopback address"
    )


def metrics_exposure_problem(settings: Settings, metrics_host: str) -> str | None:
    """Why serving a worker's metrics on `metrics_host` would expose them, if it would."""
    if (
        is_loopback(metrics_host)
        or not settings.web_interface.auth_config.enabled
        or settings.web_interface.monitoring.metrics_token is not None
    ):
        return None
    return (
        f"--metrics-host {metrics_host} serves the metrics beyond this machine: set "
        "web_interface.monitoring.metrics_token (NANOBRAIN_METRICS_TOKEN in production) so "
        "that only Prometheus, with that token, can read them"
    )
