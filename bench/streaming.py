"""Streaming benchmark in the shape Gradio used for its own (PR #7670): `clients` concurrent
clients each receive `chunks` chunks emitted at `rate` per second (250 x 500 at 100/s: 5.0 s is
ideal). It runs NanoBrain's SSE path (execute, then follow the events) and WebSocket path
(`workflow.execute` on a socket) and a bare sse-starlette endpoint in the same run, and reports
total time, time to first chunk, and the ratio to the bare endpoint (target: within 1.25x).
Then it opens `idle` SSE connections to one server process and reports how many it holds and the
server's memory per connection. Results go to stdout and bench/STREAMING.md.

    python bench/streaming.py [--clients 250] [--chunks 500] [--rate 100] [--idle 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import websockets

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TARGET = 1.25
RECONNECTS = [0]  # SSE connections that dropped and resumed with Last-Event-ID


@dataclass
class Run:
    name: str
    total: float
    first_chunk: list[float]
    received: int
    expected: int

    def row(self, bare: Run | None) -> str:
        ttfc = sorted(self.first_chunk)
        p50 = statistics.median(ttfc) * 1000
        p99 = ttfc[int(len(ttfc) * 0.99) - 1] * 1000
        ratio = f"{self.total / bare.total:.2f}x" if bare else "1.00x"
        return (
            f"| {self.name} | {self.total:.2f} | {p50:.1f} | {p99:.1f} | {ratio} | "
            f"{self.received:,}/{self.expected:,} |"
        )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@contextmanager
def server(command: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://{HOST}:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start: {command}") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


async def sse_client(
    client: httpx.AsyncClient, url: str, start_url: str | None, body: str
) -> tuple[float, int]:
    started = time.perf_counter()
    if start_url is not None:
        reply = await client.post(
            start_url, content=body, headers={"content-type": "application/json"}
        )
        url = url.format(reply.json()["execution_id"])
    first = 0.0
    count = 0
    last_id: str | None = None
    while True:  # a dropped connection resumes where it left off, as a real client would
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            async with client.stream("GET", url, headers=headers) as response:
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        last_id = line[4:]
                    elif line == "event: chunk":
                        count += 1
                        if count == 1:
                            first = time.perf_counter() - started
            return first, count
        except httpx.TransportError:
            RECONNECTS[0] += 1


async def ws_client(url: str, body: dict[str, object]) -> tuple[float, int]:
    started = time.perf_counter()
    first = 0.0
    count = 0
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.recv()  # ready
        await ws.send(json.dumps(body))
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "chunk":
                count += 1
                if count == 1:
                    first = time.perf_counter() - started
            elif message["type"] == "status" and message["data"]["status"] in (
                "succeeded",
                "failed",
            ):
                break
    return first, count


async def measure(name: str, clients: int, chunks: int, make: object) -> Run:
    started = time.perf_counter()
    results = await asyncio.gather(*(make() for _ in range(clients)))  # type: ignore[operator]
    total = time.perf_counter() - started
    return Run(name, total, [r[0] for r in results], sum(r[1] for r in results), clients * chunks)


async def streaming_runs(nano: int, bare: int, clients: int, chunks: int, rate: float) -> list[Run]:
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    body = json.dumps({"workflow": "ticker", "input": {"n": chunks, "rate": rate}})
    api = f"http://{HOST}:{nano}/api/v1"
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        runs = [
            await measure(
                "bare sse-starlette",
                clients,
                chunks,
                lambda: sse_client(
                    client, f"http://{HOST}:{bare}/ticks?n={chunks}&rate={rate}", None, ""
                ),
            ),
            await measure(
                "NanoBrain SSE",
                clients,
                chunks,
                lambda: sse_client(
                    client, api + "/workflows/{}/events", api + "/workflows/execute", body
                ),
            ),
        ]
    ws_body = {
        "type": "workflow.execute",
        "id": 1,
        "workflow": "ticker",
        "input": {"n": chunks, "rate": rate},
    }
    runs.append(
        await measure(
            "NanoBrain WebSocket",
            clients,
            chunks,
            lambda: ws_client(f"ws://{HOST}:{nano}/api/v1/ws", ws_body),
        )
    )
    return runs


async def hold_idle(port: int, pid: int, count: int, execution_id: str) -> tuple[int, float]:
    """Open `count` SSE connections that stay idle; how many the server holds, KiB each."""
    before = rss_kib(pid)
    request = (
        f"GET /api/v1/workflows/{execution_id}/events HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
    ).encode()
    writers = []
    held = 0
    for _ in range(count):
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            if b" 200 " in head.split(b"\r\n", 1)[0]:
                held += 1
            writers.append(writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            break
    await asyncio.sleep(2)
    grown = rss_kib(pid) - before
    for writer in writers:
        writer.close()
    return held, grown / max(held, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=250)
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--idle", type=int, default=10_000)
    options = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers inherit it

    nano, bare = free_port(), free_port()
    uvicorn = [
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {
        "NANOBRAIN_WEB_INTERFACE__MONITORING__LOG_LEVEL": "warning",
        "NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__DEBUG": "false",
        "NANOBRAIN_RUNTIME__MAX_CONCURRENCY": str(options.clients * 2),
    }
    with (
        server(
            [sys.executable, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(BENCH),
             "--port", str(bare), *uvicorn],
            bare,
            {},
        ),
        server(
            [sys.executable, "-m", "nanobrain", "serve", str(BENCH / "stream_flows.py"),
             "nanobrain.examples", "--port", str(nano), "--data-dir",
             str(Path(os.environ.get("TMPDIR", "/tmp")) / f"nanobrain-bench-{nano}")],
            nano,
            env,
        ) as nanobrain,
    ):  # fmt: skip
        runs = asyncio.run(
            streaming_runs(nano, bare, options.clients, options.chunks, options.rate)
        )
        long_run = httpx.post(
            f"http://{HOST}:{nano}/api/v1/workflows/execute",
            json={"workflow": "simulation", "input": {"steps": 10_000, "step_seconds": 60}},
        ).json()["execution_id"]
        held, per_connection = asyncio.run(hold_idle(nano, nanobrain.pid, options.idle, long_run))
    ideal = options.chunks / options.rate
    lines = [
        "# Streaming: NanoBrain vs bare sse-starlette",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
        f"- load: {options.clients} concurrent clients x {options.chunks} chunks at "
        f"{options.rate:g}/s (ideal {ideal:.1f} s); client and servers on the same machine",
        "- NanoBrain SSE = `POST /workflows/execute` then `GET /workflows/{id}/events`; "
        "WebSocket = `workflow.execute` on `/api/v1/ws`; bare = an sse-starlette endpoint "
        "emitting the same envelopes",
        "",
        "| path | total s | first chunk p50 ms | p99 ms | vs bare | chunks received |",
        "|---|--:|--:|--:|--:|--:|",
        *(run.row(runs[0] if index else None) for index, run in enumerate(runs)),
        "",
        f"- target: within {TARGET}x of bare: "
        + ", ".join(
            f"{run.name} {'met' if run.total <= runs[0].total * TARGET else 'NOT met'}"
            for run in runs[1:]
        ),
        f"- idle SSE connections held by one NanoBrain process: {held:,} of {options.idle:,} "
        f"tried, {per_connection:.1f} KiB of server memory each",
        f"- SSE connections that dropped and resumed with Last-Event-ID: {RECONNECTS[0]}",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    (BENCH / "STREAMING.md").write_text(report)


if __name__ == "__main__":
    main()
