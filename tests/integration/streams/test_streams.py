"""Streams under trouble: dropped connections resume exactly, a client that stops reading
neither slows the workflow nor grows the server's memory, and a graceful stop tells clients to
reconnect."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import wait_for
from tests.support.server import Server
from tests.support.sse import SSE, collect, read_events
from tests.support.waiting import wait_until
from tests.support.ws import close_of, open_socket, receive, send

MEMORY_BOUND_MB = 64  # server RSS growth allowed while 100,000 chunks pile up unread


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_an_sse_client_that_drops_resumes_with_every_event_once(client: httpx.Client) -> None:
    execution_id = client.post(
        "/workflows/execute", json={"workflow": "countdown", "input": {"n": 40, "delay": 0.02}}
    ).json()["execution_id"]
    first: list[SSE] = []
    with client.stream("GET", f"/workflows/{execution_id}/events") as response:
        for event in read_events(response):
            first.append(event)
            if len(first) == 10:
                break  # the connection drops mid-stream
    rest = collect(
        client, f"/workflows/{execution_id}/events", headers={"Last-Event-ID": first[-1].id or ""}
    )
    ids = [int(e.id or 0) for e in first + rest]
    assert ids == list(range(1, len(ids) + 1))
    chunks = [e.data["data"]["delta"] for e in first + rest if e.event == "chunk"]
    assert chunks == [f"{i} " for i in range(40, 0, -1)]
    assert rest[-1].data["data"]["status"] == "succeeded"


def test_a_client_that_stops_reading_costs_bounded_memory(fresh_server: Server) -> None:
    fresh_server.env["NANOBRAIN_RUNTIME__MAX_EVENTS_PER_STREAM"] = "2000"
    fresh_server.start()
    assert fresh_server.process is not None
    pid = fresh_server.process.pid
    with httpx.Client(base_url=fresh_server.api, timeout=60) as client:
        client.post("/workflows/execute", json={"workflow": "echo", "wait": True})
        before = rss_mb(pid)
        execution_id = client.post(
            "/workflows/execute", json={"workflow": "flood", "input": {"n": 100_000, "delay": 1.0}}
        ).json()["execution_id"]
        started = time.monotonic()
        with client.stream("GET", f"/workflows/{execution_id}/events") as response:
            events = read_events(response)
            next(events)  # then stop reading while the workflow emits 100,000 chunks
            with httpx.Client(base_url=fresh_server.api, timeout=60) as other:
                status = wait_for(other, execution_id, {"succeeded", "failed"}, timeout=60)
            elapsed = time.monotonic() - started
            grown = rss_mb(pid) - before
            tail = list(events)  # reading again: what was kept, then a `lagged` error
    assert status["status"] == "succeeded"
    assert elapsed < 30, "the unread stream slowed the workflow down"
    assert grown < MEMORY_BOUND_MB, f"server memory grew by {grown:.0f} MB"
    assert tail[-1].event == "error" and tail[-1].data["type"] == "lagged"
    seen = [int(e.id) for e in tail if e.id]
    assert seen == list(range(seen[0], seen[0] + len(seen)))  # no gap before the error


def open_streams(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("nanobrain_streams_open "):
            return float(line.split()[1])
    raise AssertionError("no nanobrain_streams_open in /metrics")


def test_a_client_that_takes_no_data_is_dropped(fresh_server: Server) -> None:
    """A client gone without closing (or stalled) holds a connection only until a write to it
    has waited `send_timeout_seconds`; the workflow meanwhile runs on at full speed."""
    fresh_server.env["NANOBRAIN_REALTIME__SEND_TIMEOUT_SECONDS"] = "1"
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        execution_id = client.post(
            "/workflows/execute", json={"workflow": "flood", "input": {"n": 300_000, "delay": 1}}
        ).json()["execution_id"]
        with socket.socket() as stalled:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once
            stalled.connect(("127.0.0.1", fresh_server.port))
            stalled.sendall(
                f"GET /api/v1/workflows/{execution_id}/events HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\n\r\n".encode()
            )
            assert stalled.recv(12) == b"HTTP/1.1 200"  # then it reads nothing more
            assert open_streams(client) == 1
            wait_until(lambda: open_streams(client) == 0, 20, 0.2, "the stalled stream dropped")
            status = wait_for(client, execution_id, {"succeeded", "failed"}, timeout=60)
            stalled.settimeout(10)
            received = b""
            while chunk := stalled.recv(1 << 16):  # what the buffers held, then the close
                received += chunk
    assert status["status"] == "succeeded"
    assert b"event: chunk" in received
    assert b'"status":"succeeded"' not in received  # dropped long before the end


def test_a_graceful_stop_tells_streams_to_reconnect(fresh_server: Server) -> None:
    fresh_server.start()
    with httpx.Client(base_url=fresh_server.api, timeout=30) as client:
        execution_id = client.post(
            "/workflows/execute",
            json={"workflow": "simulation", "input": {"steps": 200, "step_seconds": 0.05}},
        ).json()["execution_id"]
        wait_for(client, execution_id, {"running"})
    sse: list[SSE] = []
    ws_result: dict[str, Any] = {}
    ws_messages: list[dict[str, Any]] = []

    def read_sse() -> None:
        with (
            httpx.Client(base_url=fresh_server.api, timeout=30) as client,
            client.stream("GET", f"/workflows/{execution_id}/events") as response,
        ):
            sse.extend(read_events(response))

    def read_ws() -> None:
        with open_socket(fresh_server.api) as ws:
            receive(ws)
            send(ws, type="subscribe", id="s", execution_id=execution_id)
            try:
                while (message := receive(ws))["type"] != "reconnect":
                    ws_messages.append(message)
                ws_result["reconnect"] = message
            finally:
                ws_result["close"] = close_of(ws)

    readers = [threading.Thread(target=read_sse), threading.Thread(target=read_ws)]
    for reader in readers:
        reader.start()
    # Both readers get the run's events before the stop.
    wait_until(lambda: sse and any(m["type"] == "progress" for m in ws_messages), 10)
    assert fresh_server.stop()
    for reader in readers:
        reader.join(10)
    assert sse[-1].event == "reconnect" and sse[-1].id is None
    assert ws_result["reconnect"]["data"]["retry_ms"] > 0
    assert ws_result["close"][0] == 1012
