"""Private PostgreSQL and Redis instances that a test may stop, restart and pause at will, on
ports of their own (the shared services on 5432 and 6379 are never touched).

PostgreSQL refuses to run as root, so its tools run as the `postgres` user, on a data directory
that user owns; Redis runs as whoever runs the tests. Redis persists every write (AOF, fsync
always), as a production Redis that must lose nothing across a restart does.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.server import free_port


def _postgres_tool(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return found


class PrivatePostgres:
    """A PostgreSQL cluster on a free loopback port, trust authentication, in a directory of its
    own under /tmp (pytest's temporary directories are private to root, out of the `postgres`
    user's reach); `remove()` deletes it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="nanobrain-pg-"))
        self.data = self.dir / "pgdata"
        self.port = free_port()
        self._user = pwd.getpwnam("postgres")

    @property
    def url(self) -> str:
        """The plain URL, as every PostgreSQL tool and host writes it."""
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            user=self._user.pw_uid,
            group=self._user.pw_gid,
            cwd="/",
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def init(self) -> PrivatePostgres:
        os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
        self._run(
            _postgres_tool("initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        return self

    def start(self) -> PrivatePostgres:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            _postgres_tool("pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.dir / "postgres.log"), "-w", "-t", "30", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        """A fast shutdown: open transactions are rolled back, connections are cut."""
        self._run(
            _postgres_tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
            check=False,
        )  # fmt: skip

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def running(self) -> bool:
        result = self._run(_postgres_tool("pg_ctl"), "-D", str(self.data), "status", check=False)
        return result.returncode == 0


class PrivateRedis:
    """A Redis server in `directory`, on a free loopback port, persisting every write."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5, socket_connect_timeout=2)

    def start(self) -> PrivateRedis:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                "--logfile", str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with self.client() as client:
                    if client.ping():
                        return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text()}")

    def stop(self) -> None:
        """A graceful shutdown (SIGTERM): the AOF is complete, clients are disconnected."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        self.process = None

    def pause_writes(self, milliseconds: int) -> None:
        """Hold every write command (and its client) for `milliseconds`: reads go on."""
        with self.client() as client:
            client.execute_command("CLIENT", "PAUSE", milliseconds, "WRITE")

    def unpause(self) -> None:
        with self.client() as client:
            client.execute_command("CLIENT", "UNPAUSE")
