"""A distributed deployment on loopback: nginx (TLS, the deployment's own proxy rules) in front of
API replicas, and workers, all on this run's own PostgreSQL database and Redis prefix."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.backing import Backing
from tests.support.server import ROOT, Server, Worker, free_port

PROXY_RULES = ROOT / "deploy" / "nginx" / "nanobrain-proxy.conf"
# Fast worker-failure detection: a heartbeat every HEARTBEAT seconds, dead after WORKER_TIMEOUT.
HEARTBEAT, WORKER_TIMEOUT = 0.2, 1.0
DETECTION = {
    "NANOBRAIN_RUNTIME__HEARTBEAT_SECONDS": str(HEARTBEAT),
    "NANOBRAIN_RUNTIME__WORKER_TIMEOUT_SECONDS": str(WORKER_TIMEOUT),
}
NGINX_CONF = """
worker_processes 1;
user root;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
    upstream nanobrain_api {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/tls.crt;
        ssl_certificate_key {dir}/tls.key;
        location / {{
            proxy_pass http://nanobrain_api;
            include {rules};
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, directory: Path, upstreams: list[int]):
        self.dir = directory
        self.port = free_port()
        self.upstreams = upstreams
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"https://127.0.0.1:{self.port}/api/v1"

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx is not installed (apt-get install -y nginx; .ci/run does)")
        self.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-keyout", str(self.dir / "tls.key"),
             "-out", str(self.dir / "tls.crt")],
            check=True, capture_output=True,
        )  # fmt: skip
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=30s;"
            for port in self.upstreams
        )
        conf = self.dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(dir=self.dir, port=self.port, servers=servers, rules=PROXY_RULES)
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "nginx-stderr.log").open("wb"),
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api}/health/live", verify=False).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not start: {(self.dir / 'nginx-error.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Cluster:
    """nginx, `replicas` API servers and `workers` workers sharing one backing and file store."""

    def __init__(
        self,
        directory: Path,
        backing: Backing,
        *,
        replicas: int = 2,
        workers: int = 2,
        env: dict[str, str] | None = None,
    ):
        self.dir = directory
        self.env = {
            **backing.env,
            "NANOBRAIN_FILE_STORE": str(directory / "files"),
            **(env or {}),
        }
        self.replicas = [Server(directory / f"api-{i}", env=self.env) for i in range(replicas)]
        self.workers = [self.new_worker() for _ in range(workers)]
        self.nginx = Nginx(directory / "nginx", [server.port for server in self.replicas])

    def new_worker(self) -> Worker:
        return Worker(self.dir / "workers", self.env)

    def start(self) -> Cluster:
        for worker in self.workers:
            worker.start()
        for server in self.replicas:
            server.start()
        self.nginx.start()
        return self

    def replace_worker(self, worker: Worker, wait: bool = True) -> Worker:
        """Kill `worker` (SIGKILL) and start a fresh one in its place (`wait`: until it runs)."""
        worker.kill()
        fresh = self.new_worker().start(wait=wait)
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def stop(self) -> None:
        self.nginx.stop()
        for process in [*self.replicas, *self.workers]:
            process.kill()
