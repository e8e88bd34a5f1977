"""Clients that keep talking to a deployment through a fault, and what they saw.

`Traffic` sends a rotating mix of requests over every transport (REST, SSE, WebSocket, MCP, the
OpenAI-compatible `/v1`) from a few threads, each with a bounded client timeout, and keeps every
answer. `Follower` follows one execution's SSE stream to its end the way a browser does: it
reconnects with `Last-Event-ID` after a `reconnect` event, a 503 or a broken connection, and keeps
every event it got, so the test can check that none was lost or repeated.
"""

from __future__ import annotations

import json
import random
import ssl
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from tests.support.sse import SSE, read_events

CLIENT_TIMEOUT = 15.0  # the longest any request may take, outage or not: longer is a hang
# Requests that do not wait for an execution's outcome answer within the dependency timeout (2 s
# in these tests) twice over, plus slack for a busy machine: an outage does not hold them.
PROMPT_SECONDS = 6.0
PROMPT = {"execute", "status", "history", "health", "live", "upload"}
FINAL = {"succeeded", "failed", "cancelled"}
TRY_LATER = 1013  # the WebSocket close code for "try again later": a socket's 503


@dataclass(frozen=True)
class Answer:
    kind: str
    status: int | None  # None: no answer within CLIENT_TIMEOUT, or the connection broke
    at: float  # monotonic time the request was sent
    seconds: float
    retry_after: str | None = None
    detail: str = ""

    @property
    def refused(self) -> bool:
        return self.status == 503


@dataclass
class Traffic:
    """A few threads sending requests of every kind at `base` (the server's root URL)."""

    base: str
    threads: int = 6
    token: str | None = None  # sent as a bearer token (and a WebSocket's auth message)
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # execution id -> how
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api(self) -> str:
        return f"{self.base}/api/v1"

    def __enter__(self) -> Traffic:
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._workers:  # each request ends within its bounds (and `check_answers`
            thread.join(CLIENT_TIMEOUT * 3)  # says whether it answered within CLIENT_TIMEOUT)
            if thread.is_alive():
                frame = sys._current_frames().get(thread.ident or 0)
                where = "".join(traceback.format_stack(frame)[-8:]) if frame else "?"
                raise AssertionError(f"a client thread is stuck in:\n{where}")

    def between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if start <= answer.at <= end]

    def _note(self, answer: Answer, execution_id: str | None = None) -> None:
        with self._lock:
            self.answers.append(answer)
            if execution_id is not None and answer.status in (200, 202):
                self.acknowledged[execution_id] = answer.kind

    def _run(self, index: int) -> None:
        kinds = [
            self._execute_job, self._execute_wait, self._status, self._history, self._health,
            self._live, self._events, self._chat, self._openai, self._mcp, self._websocket,
            self._upload,
        ]  # fmt: skip
        rng = random.Random(index)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        with httpx.Client(verify=False, timeout=CLIENT_TIMEOUT, headers=headers) as client:
            while not self._stop.is_set():
                request = kinds[rng.randrange(len(kinds))]
                started = time.monotonic()
                try:
                    request(client, started)
                except (httpx.HTTPError, OSError, WebSocketException, ValueError) as exc:
                    name = request.__name__.lstrip("_")
                    elapsed = time.monotonic() - started
                    self._note(Answer(name, None, started, elapsed, None, repr(exc)))
                time.sleep(0.05)

    def _answer(
        self, kind: str, response: httpx.Response, started: float, execution_id: str | None = None
    ) -> None:
        detail = response.text[:300] if response.status_code >= 400 else ""
        self._note(
            Answer(
                kind,
                response.status_code,
                started,
                time.monotonic() - started,
                response.headers.get("retry-after"),
                detail,
            ),
            execution_id,
        )

    def _known(self) -> str | None:
        with self._lock:
            known = list(self.acknowledged)
        return random.choice(known) if known else None

    # -- the requests --------------------------------------------------------------------------
    def _execute_job(self, client: httpx.Client, started: float) -> None:
        body = {"workflow": "simulation", "input": {"steps": 4, "step_seconds": 0.1}}
        response = client.post(f"{self.api}/workflows/execute", json=body)
        execution_id = response.json().get("execution_id") if response.status_code == 202 else None
        self._answer("execute", response, started, execution_id)

    def _execute_wait(self, client: httpx.Client, started: float) -> None:
        body = {"workflow": "echo", "input": {"message": "hi"}, "wait": True}
        response = client.post(f"{self.api}/workflows/execute", json=body)
        execution_id = response.json().get("execution_id") if response.status_code == 200 else None
        self._answer("execute-wait", response, started, execution_id)

    def _status(self, client: httpx.Client, started: float) -> None:
        execution_id = self._known()
        if execution_id is not None:
            response = client.get(f"{self.api}/workflows/{execution_id}/status")
            self._answer("status", response, started)

    def _history(self, client: httpx.Client, started: float) -> None:
        self._answer("history", client.get(f"{self.api}/executions?limit=5"), started)

    def _health(self, client: httpx.Client, started: float) -> None:
        response = client.get(f"{self.api}/health")
        if response.status_code == 503:  # names what is down
            checks = response.json()["checks"]
            assert any(check["status"] == "down" for check in checks.values()), checks
        self._answer("health", response, started)

    def _live(self, client: httpx.Client, started: float) -> None:
        self._answer("live", client.get(f"{self.api}/health/live"), started)

    def _events(self, client: httpx.Client, started: float) -> None:
        execution_id = self._known()
        if execution_id is None:
            return
        url = f"{self.api}/workflows/{execution_id}/events"
        with client.stream("GET", url) as response:
            if response.status_code == 200:  # read for up to 3 s (keep-alives count too)
                deadline = time.monotonic() + 3
                for event in read_events(response, until=deadline):
                    if is_final(event) or event.event == "reconnect":
                        break
            else:
                response.read()
            self._answer("events", response, started)

    def _upload(self, client: httpx.Client, started: float) -> None:
        files = {"file": ("sample.txt", b"ACGT" * 16_384, "text/plain")}  # 64 KiB
        self._answer("upload", client.post(f"{self.api}/files", files=files), started)

    def _chat(self, client: httpx.Client, started: float) -> None:
        response = client.post(f"{self.api}/chat", json={"message": "count the words in: a b c"})
        self._answer("chat", response, started)

    def _openai(self, client: httpx.Client, started: float) -> None:
        body = {"model": "assistant", "messages": [{"role": "user", "content": "what can you do?"}]}
        self._answer("v1", client.post(f"{self.base}/v1/chat/completions", json=body), started)

    def _mcp(self, client: httpx.Client, started: float) -> None:
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "text-stats", "arguments": {"text": "One fish."}},
        }
        headers = {"accept": "application/json, text/event-stream"}
        response = client.post(f"{self.base}/mcp", json=call, headers=headers)
        if response.status_code == 200:
            result = response.json()["result"]
            if result.get("isError"):  # a refusal names its status, as a problem would
                error = json.loads(result["content"][0]["text"])
                status = int(error.get("status", 500))
                retry = str(error["retry_after"]) if "retry_after" in error else None
                self._note(
                    Answer("mcp", status, started, time.monotonic() - started, retry, str(error))
                )
                return
        self._answer("mcp", response, started)

    def _websocket(self, client: httpx.Client, started: float) -> None:
        try:
            self._socket_turn(started)
        except ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != TRY_LATER:
                raise
            # The socket's own 503: closed before it was ready, to be opened again later.
            elapsed = time.monotonic() - started
            self._note(Answer("ws", 503, started, elapsed, "close 1013", closed.rcvd.reason))

    def _socket_turn(self, started: float) -> None:
        url = self.api.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        secure = url.startswith("wss://")
        with connect(
            url, open_timeout=CLIENT_TIMEOUT, close_timeout=2, ssl=context if secure else None
        ) as ws:
            if self.token:
                ws.send(json.dumps({"type": "auth", "token": self.token}))
            message = {"type": "workflow.execute", "id": "w", "workflow": "echo", "input": {}}
            ws.send(json.dumps(message))
            deadline = started + CLIENT_TIMEOUT
            execution_id = None
            while True:
                received = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                if received["type"] == "ready":
                    continue
                if received["type"] == "execution.created":
                    execution_id = received["execution_id"]
                    continue
                if received["type"] == "error":
                    data = received["data"]
                    status = int(data.get("status", 500))
                    retry = str(data["retry_after"]) if "retry_after" in data else None
                    answer = Answer("ws", status, started, time.monotonic() - started, retry)
                    self._note(answer, execution_id)
                    return
                if received["type"] == "status" and received["data"]["status"] in FINAL:
                    self._note(Answer("ws", 200, started, time.monotonic() - started), execution_id)
                    return


def is_final(event: SSE) -> bool:
    return event.event == "status" and event.data["data"]["status"] in FINAL


@dataclass
class Follower:
    """Follows one execution's events to the final one through any outage (see module doc)."""

    api: str
    execution_id: str
    token: str | None = None
    events: list[SSE] = field(default_factory=list)
    connections: int = 0
    reconnects: Counter[str] = field(default_factory=Counter)  # why it came back
    error: str | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Follower:
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"stream of {self.execution_id} did not end"
        assert self.error is None, self.error

    @property
    def seqs(self) -> list[int]:
        return [int(event.id) for event in self.events if event.id is not None]

    def _follow(self) -> None:
        url = f"{self.api}/workflows/{self.execution_id}/events"
        deadline = time.monotonic() + 120
        # Pings come every second (realtime.sse_ping_seconds): five silent seconds is a hang.
        timeout = httpx.Timeout(CLIENT_TIMEOUT, read=5.0)
        with httpx.Client(verify=False, timeout=timeout) as client:
            while time.monotonic() < deadline:
                headers = {"Last-Event-ID": str(self.seqs[-1])} if self.seqs else {}
                if self.token:
                    headers["Authorization"] = f"Bearer {self.token}"
                try:
                    with client.stream("GET", url, headers=headers) as response:
                        self.connections += 1
                        if response.status_code != 200:
                            response.read()
                            if response.status_code != 503 or "retry-after" not in response.headers:
                                self.error = f"{response.status_code}: {response.text[:300]}"
                                return
                            self.reconnects["503"] += 1
                            time.sleep(float(response.headers["retry-after"]))
                            continue
                        for event in read_events(response):
                            if event.event == "reconnect":
                                self.reconnects["reconnect"] += 1
                                time.sleep(event.data.get("retry_ms", 1000) / 1000)
                                break
                            self.events.append(event)
                            if is_final(event):
                                return
                        else:
                            self.reconnects["closed"] += 1
                except httpx.ReadTimeout:
                    self.error = "the stream went silent (no event, no keep-alive) for 5 s"
                    return
                except httpx.HTTPError as exc:
                    self.reconnects[type(exc).__name__] += 1
                    time.sleep(0.5)
        self.error = "the stream did not end within 120 s"


def check_stream(follower: Follower) -> None:
    """Every event exactly once, in order, ending with the final status."""
    seqs = follower.seqs
    assert seqs == list(range(1, len(seqs) + 1)), f"{follower.execution_id}: {seqs}"
    assert follower.events and is_final(follower.events[-1]), follower.events[-3:]


def summarize(answers: list[Answer]) -> dict[str, Any]:
    by_status = Counter(str(answer.status) for answer in answers)
    by_kind: dict[str, Counter[str]] = {}
    for answer in answers:
        by_kind.setdefault(answer.kind, Counter())[str(answer.status)] += 1
    return {
        "requests": len(answers),
        "by_status": dict(by_status),
        "by_kind": {kind: dict(counts) for kind, counts in sorted(by_kind.items())},
        "slowest": max(
            ((round(answer.seconds, 2), answer.kind, answer.status) for answer in answers),
            default=None,
        ),
    }


def check_answers(
    answers: list[Answer], allowed: frozenset[int] = frozenset({200, 201, 202, 503})
) -> None:
    """No 500, no hang, no broken connection; every 503 says when to come back."""
    wrong = [answer for answer in answers if answer.status not in allowed]
    assert not wrong, "\n".join(map(repr, wrong[:10]))
    unannounced = [answer for answer in answers if answer.refused and not answer.retry_after]
    assert not unannounced, "\n".join(map(repr, unannounced[:10]))
    assert all(answer.seconds < CLIENT_TIMEOUT for answer in answers)
    held = [a for a in answers if a.kind in PROMPT and a.seconds > PROMPT_SECONDS]
    assert not held, "\n".join(map(repr, held[:10]))
    live = [answer for answer in answers if answer.kind == "live"]
    assert all(answer.status == 200 for answer in live), "liveness must not follow dependencies"
