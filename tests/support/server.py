"""A real NanoBrain server in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
FLOWS = str(ROOT / "tests" / "support" / "flows.py")
AGENTS = str(ROOT / "tests" / "support" / "agents.py")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without NANOBRAIN_ settings of its own, plus `extra`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NANOBRAIN_")},
        "NANOBRAIN_WEB_INTERFACE__MONITORING__LOG_LEVEL": "info",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(
        self,
        data_dir: Path,
        targets: list[str] | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ):
        self.data_dir = data_dir
        self.targets = ["nanobrain.examples", FLOWS] if targets is None else targets
        self.env = env or {}
        self.args = args or []
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"server-{self.port}.log"
        self.tls = self.env.get("NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__ENABLED") == "true"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def start(self, timeout: float = 30.0) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = child_env(self.env)
        command = [sys.executable, "-m", "nanobrain", "serve", *self.targets]
        command += ["--port", str(self.port), "--data-dir", str(self.data_dir), *self.args]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                ready = httpx.get(f"{self.api}/health/ready", timeout=1, verify=False)
                if ready.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> bool:
        """Graceful stop (SIGTERM), as a process manager would do it; True if it shut down cleanly.

        uvicorn re-raises the signal after its shutdown, so the exit status itself is -SIGTERM.
        """
        assert self.process is not None
        offset = self.log_path.stat().st_size
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        tail = self.log_path.read_bytes()[offset:].decode(errors="replace")
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in tail

    def kill(self) -> None:
        """Sudden death (SIGKILL): nothing gets to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Worker:
    """A real `nanobrain worker` in a subprocess, serving its metrics on a free port."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str],
        targets: list[str] | None = None,
        name: str | None = None,
    ):
        self.data_dir = data_dir
        self.env = env
        self.targets = ["nanobrain.examples", FLOWS] if targets is None else targets
        self.name = name or f"worker-{os.urandom(3).hex()}"
        self.metrics_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"{self.name}.log"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self, timeout: float = 30.0, wait: bool = True) -> Worker:
        """Start, and return once it takes jobs (its metrics endpoint answers), or at once."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "nanobrain", "worker", *self.targets, "--name", self.name]
        command += ["--data-dir", str(self.data_dir), "--metrics-port", str(self.metrics_port)]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=child_env(self.env), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        if not wait:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.metrics_url, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"worker did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
