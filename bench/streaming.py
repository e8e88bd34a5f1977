"""Streaming benchmark in the shape Gradio used for its own (PR #7670): `clients` concurrent
clients each receive `chunks` chunks emitted at `rate` per second (250 x 500 at 100/s: 5.0 s is
ideal). It runs NanoBrain's SSE path (execute, then follow the events) and WebSocket path
(`workflow.execute` on a socket) and a bare sse-starlette endpoint in the same run, and reports
total time, time to first chunk, and the ratio to the bare endpoint (target: within 1.25x).
Then it opens `idle` SSE connections to one server process and reports how many it holds and the
server's memory per connection. Results go to stdout and bench/STREAMING.md.

The clients (bench/stream_clients.py) are raw sockets in several processes pinned apart from the
servers, counting chunk events in the bytes they receive: a Python HTTP client parsing every
event in one process is slower than the servers it measures and would report its own limits.

    python bench/streaming.py [--clients 250] [--chunks 500] [--rate 100] [--idle 10000]
                              [--processes 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
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
from stream_clients import Target, run_clients

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


@dataclass(frozen=True)
class Setup:
    nano: int  # NanoBrain's port
    bare: int  # the bare sse-starlette server's port
    clients: int
    chunks: int
    rate: float
    processes: int
    cpus: list[int] | None  # where the client processes run (None: anywhere)


def measure(name: str, target: Target, setup: Setup) -> Run:
    total, results = run_clients(target, setup.clients, setup.processes, setup.cpus)
    RECONNECTS[0] += sum(result.reconnects for result in results)
    return Run(
        name,
        total,
        [result.first_chunk for result in results],
        sum(result.chunks for result in results),
        setup.clients * setup.chunks,
    )


def streaming_runs(setup: Setup) -> list[Run]:
    execute = {"workflow": "ticker", "input": {"n": setup.chunks, "rate": setup.rate}}
    ws_message = {"type": "workflow.execute", "id": 1, **execute}
    ticks = f"/ticks?n={setup.chunks}&rate={setup.rate}"
    return [
        measure("bare sse-starlette", Target("sse", HOST, setup.bare, ticks), setup),
        measure(
            "NanoBrain SSE",
            Target(
                "execute-sse",
                HOST,
                setup.nano,
                "/api/v1/workflows/execute",
                json.dumps(execute).encode(),
            ),
            setup,
        ),
        measure(
            "NanoBrain WebSocket",
            Target("ws", HOST, setup.nano, "/api/v1/ws", json.dumps(ws_message).encode()),
            setup,
        ),
    ]


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


def pinned(pin: bool) -> list[str]:
    return ["taskset", "-c", "0"] if pin else []


def median_of(count: int, setup: Setup) -> tuple[list[Run], list[list[float]]]:
    """Each path `count` times, the paths interleaved; the median run of each path, and every
    run's total time per path."""
    rounds = [streaming_runs(setup) for _ in range(count)]
    per_path = [list(runs) for runs in zip(*rounds, strict=True)]
    medians = [sorted(runs, key=lambda run: run.total)[len(runs) // 2] for runs in per_path]
    return medians, [[run.total for run in runs] for runs in per_path]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=250)
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--runs", type=int, default=3, help="measure each path this many times")
    options = parser.parse_args()
    # Servers on CPU 0 and the client processes on CPU 1, as bench/run.py does with wrk.
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
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
            [*pinned(pin), sys.executable, "-m", "uvicorn", "baseline_app:app",
             "--app-dir", str(BENCH), "--port", str(bare), *uvicorn],
            bare,
            {},
        ),
        server(
            [*pinned(pin), sys.executable, "-m", "nanobrain", "serve",
             str(BENCH / "stream_flows.py"), "nanobrain.examples", "--port", str(nano),
             "--data-dir",
             str(Path(os.environ.get("TMPDIR", "/tmp")) / f"nanobrain-bench-{nano}")],
            nano,
            env,
        ) as nanobrain,
    ):  # fmt: skip
        setup = Setup(
            nano,
            bare,
            options.clients,
            options.chunks,
            options.rate,
            options.processes,
            [1] if pin else None,
        )
        runs, totals = median_of(options.runs, setup)
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
        f"{options.rate:g}/s (ideal {ideal:.1f} s); client and servers on the same machine"
        + ("; each server pinned to CPU 0, the clients to CPU 1" if pin else ", sharing its CPUs"),
        f"- clients: raw-socket SSE and WebSocket clients over {options.processes} processes "
        "(bench/stream_clients.py), counting chunk events in the bytes they receive; "
        f"{options.runs} run(s) per path, interleaved; the table shows each path's median run",
        "- time to first chunk counts from the client's start: for NanoBrain SSE it includes "
        "the `POST /workflows/execute` round trip before the event stream is opened",
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
        "- total seconds of every run: "
        + "; ".join(
            f"{run.name} {', '.join(f'{total:.2f}' for total in run_totals)}"
            for run, run_totals in zip(runs, totals, strict=True)
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
