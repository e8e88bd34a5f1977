"""Distributed mode is configuration alone: the URLs switch it on, the runtime keys tune it."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanobrain.config import ConfigError, load_settings
from tests.support.backing import backing
from tests.support.server import Worker
from tests.test_discovery import run_cli

PG = "postgresql+asyncpg://nanobrain@db:5432/nanobrain"


def test_the_urls_from_the_environment_switch_distributed_mode_on(tmp_path: Path) -> None:
    embedded = load_settings(environ={"NANOBRAIN_DATA_DIR": str(tmp_path)})
    assert not embedded.distributed
    assert embedded.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert embedded.files_dir == tmp_path / "files"
    assert embedded.rate_limit_storage_uri == "memory://"
    distributed = load_settings(
        environ={
            "NANOBRAIN_DATABASE_URL": PG,
            "NANOBRAIN_REDIS_URL": "redis://cache:6379/0",
            "NANOBRAIN_FILE_STORE": str(tmp_path / "shared"),
        }
    )
    assert distributed.distributed and distributed.resolved_database_url == PG
    assert distributed.files_dir == tmp_path / "shared"
    assert distributed.rate_limit_storage_uri == "redis://cache:6379/0"


def test_a_worker_timeout_must_outlast_the_heartbeat() -> None:
    with pytest.raises(ConfigError, match="worker_timeout_seconds must be longer"):
        load_settings(
            environ={
                "NANOBRAIN_RUNTIME__HEARTBEAT_SECONDS": "5",
                "NANOBRAIN_RUNTIME__WORKER_TIMEOUT_SECONDS": "5",
            }
        )


def test_a_worker_needs_redis(tmp_path: Path) -> None:
    result = run_cli("worker", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "set redis_url" in result.stderr


def test_a_worker_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    with backing("stop") as services:
        worker = Worker(tmp_path, services.env).start()
        assert worker.stop() == 0
        assert "stopped" in worker.log()
