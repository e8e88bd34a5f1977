"""The streaming benchmark's load generator: raw-socket SSE and WebSocket clients spread over
several processes, so the clients cost far less than the servers they measure (a Python HTTP
client's per-event parsing, in one process, is slower than the server it measures).

Each client counts chunk events in the bytes it receives without parsing them: an SSE event and a
WebSocket text frame from the server both carry the envelope's JSON verbatim, so counting
`"type":"chunk"` is exact. Results per client: seconds to the first chunk, chunks received, and
when it finished, all from a start time shared by every process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import struct
import time
from dataclasses import dataclass

import uvloop

CHUNK = b'"type":"chunk"'
FINAL = (b'"status":"succeeded"', b'"status":"failed"', b'"status":"cancelled"')


@dataclass(frozen=True)
class Target:
    kind: str  # "sse" (GET path), "execute-sse" (POST then GET events), "ws"
    host: str
    port: int
    path: str
    body: bytes = b""  # execute-sse: the execute request; ws: the first message


@dataclass
class ClientResult:
    first_chunk: float  # seconds from the shared start to the first chunk
    chunks: int
    finished: float  # seconds from the shared start to the last byte
    reconnects: int


class _Counter:
    """Counts `CHUNK` across reads (a match may straddle two reads); `window` is the last read
    with the end of the one before, for finding a pattern that straddles them."""

    TAIL = 64

    def __init__(self, started: float):
        self.started = started
        self.chunks = 0
        self.first = 0.0
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        window = self._tail + data
        found = window.count(CHUNK) - self._tail.count(CHUNK)  # those in the tail are counted
        if found and not self.chunks:
            self.first = time.time() - self.started
        self.chunks += found
        self._tail = window[-self.TAIL :]
        return window


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> bytes:
    """One request on a kept-alive connection; the reply's body (Content-Length framed)."""
    writer.write(head + body)
    reply_head = await reader.readuntil(b"\r\n\r\n")
    status = reply_head.split(b" ", 2)[1]
    length = 0
    for line in reply_head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    payload = await reader.readexactly(length)
    if not status.startswith(b"2"):
        raise RuntimeError(f"{status.decode()}: {payload[:200]!r}")
    return payload


def _last_id(window: bytes) -> bytes | None:
    at = window.rfind(b"id: ")
    if at < 0 or (at and window[at - 1 : at] not in (b"\n", b"\r")):
        return None
    end = window.find(b"\r", at)
    return window[at + 4 : end] if end > 0 else None


async def sse_client(target: Target, started: float) -> ClientResult:
    counter = _Counter(started)
    host = f"Host: {target.host}:{target.port}\r\n".encode()
    reader, writer = await asyncio.open_connection(target.host, target.port, limit=1 << 20)
    path = target.path
    if target.kind == "execute-sse":
        head = (
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + host
            + b"Content-Type: application/json\r\nContent-Length: "
            + str(len(target.body)).encode() + b"\r\n\r\n"
        )  # fmt: skip
        reply = json.loads(await _request(reader, writer, head, target.body))
        path = reply["links"]["events"]
    last_id: bytes | None = None
    reconnects = 0
    while True:  # a dropped stream resumes from the last id, as an EventSource would
        resume = b"Last-Event-ID: " + last_id + b"\r\n" if last_id else b""
        writer.write(
            b"GET " + path.encode() + b" HTTP/1.1\r\n" + host + resume
            + b"Accept: text/event-stream\r\nConnection: close\r\n\r\n"
        )  # fmt: skip
        done = False
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            window = counter.feed(data)
            last_id = _last_id(window) or last_id
            if any(final in window for final in FINAL):
                done = True
        writer.close()
        if done or target.kind == "sse":
            break
        reconnects += 1
        reader, writer = await asyncio.open_connection(target.host, target.port, limit=1 << 20)
    return ClientResult(counter.first, counter.chunks, time.time() - started, reconnects)


def _masked_text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, 0x80 | length)
    else:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    return header + mask + masked


async def ws_client(target: Target, started: float) -> ClientResult:
    counter = _Counter(started)
    reader, writer = await asyncio.open_connection(target.host, target.port, limit=1 << 20)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET " + target.path.encode() + b" HTTP/1.1\r\n"
        + f"Host: {target.host}:{target.port}\r\n".encode()
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )  # fmt: skip
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"no upgrade: {head[:200]!r}")
    writer.write(_masked_text_frame(target.body))
    while True:
        data = await reader.read(1 << 16)
        if not data:
            break
        window = counter.feed(data)
        if any(final in window for final in FINAL):
            break
    writer.close()
    return ClientResult(counter.first, counter.chunks, time.time() - started, 0)


async def _clients(target: Target, count: int, start_at: float) -> list[ClientResult]:
    await asyncio.sleep(max(0.0, start_at - time.time()))
    run = ws_client if target.kind == "ws" else sse_client
    return await asyncio.gather(*(run(target, start_at) for _ in range(count)))


def _process(target: Target, count: int, start_at: float, cpu: int | None) -> list[ClientResult]:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return uvloop.run(_clients(target, count, start_at))


def run_clients(
    target: Target, clients: int, processes: int, cpus: list[int] | None = None
) -> tuple[float, list[ClientResult]]:
    """`clients` clients over `processes` processes (pinned round-robin to `cpus`), all starting
    at one moment; (seconds until the last client finished, every client's result)."""
    shares = [clients // processes + (index < clients % processes) for index in range(processes)]
    start_at = time.time() + 3.0  # time for every process to start
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        jobs = [
            pool.apply_async(
                _process,
                (target, share, start_at, cpus[index % len(cpus)] if cpus else None),
            )
            for index, share in enumerate(shares)
            if share
        ]
        results = [result for job in jobs for result in job.get(timeout=600)]
    return max(result.finished for result in results), results
