"""What the API tests talk to, in either mode (the `deployment` fixture in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.server import Server, Worker

MODES = ["embedded", "distributed"]
SESSION_ENV = {
    "NANOBRAIN_WEB_INTERFACE__LIMITS__MAX_UPLOAD_BYTES": str(256 * 1024),
    "NANOBRAIN_WEB_INTERFACE__CACHE_CONFIG__ENABLED": "true",  # for workflows that opt in
}


@dataclass
class Deployment:
    """One API server, plus a worker in distributed mode."""

    mode: str
    server: Server
    workers: list[Worker] = field(default_factory=list)

    @property
    def metrics_urls(self) -> list[str]:
        """Where the processes that run executions publish their metrics."""
        if not self.workers:
            return [f"{self.server.api}/metrics"]
        return [worker.metrics_url for worker in self.workers]
