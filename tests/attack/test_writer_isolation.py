"""One value must never wedge the server (issue 11, finding 1): a `user` sends integers past 64
bits, nesting past the limit and workflows whose outputs no encoder takes, on every transport,
while another user works; a database that refuses writes; a SIGTERM in the middle of it all.

Each value is either stored and returned exactly (JSON has no integer limit) or refused (400), or
fails its own execution with a clear error; nothing else slows down, nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from websockets.sync.client import ClientConnection, connect

from tests.support.auth import Accounts, bearer, create_accounts
from tests.support.backing import backing
from tests.support.production import Tls, https_client, production_env
from tests.support.server import FLOWS, Server
from tests.support.sse import collect
from tests.support.ws import receive, send

WRITER_FLOWS = str(Path(__file__).with_name("writer_flows.py"))
SEEDS = [2**64, -(2**70)]
PROMPTLY = 5.0  # seconds: what "promptly" means for a request here
FINAL = {"succeeded", "failed", "cancelled"}


# -- clients -----------------------------------------------------------------------------------
def client(server: Server, tls: Tls) -> httpx.Client:
    return https_client(server.api, tls)


def timed(call: Callable[[], httpx.Response]) -> httpx.Response:
    started = time.monotonic()
    response = call()
    elapsed = time.monotonic() - started
    assert elapsed < PROMPTLY, f"{response.request.method} {response.request.url} took {elapsed}"
    return response


def execute(
    http: httpx.Client, headers: dict[str, str], workflow: str, wait: bool, **input: Any
) -> httpx.Response:
    body = {"workflow": workflow, "input": input, "wait": wait}
    return http.post("/workflows/execute", json=body, headers=headers)


def final_status(
    http: httpx.Client, headers: dict[str, str], execution_id: str, within: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = http.get(f"/workflows/{execution_id}/status", headers=headers).json()
        if body["status"] in FINAL or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def history_item(http: httpx.Client, headers: dict[str, str], execution_id: str) -> dict[str, Any]:
    response = timed(lambda: http.get("/executions", params={"limit": 200}, headers=headers))
    assert response.status_code == 200, response.text
    found = [item for item in response.json()["items"] if item["execution_id"] == execution_id]
    assert found, f"{execution_id} is not in the history"
    return found[0]


@contextlib.contextmanager
def socket(server: Server, tls: Tls, token: str) -> Iterator[ClientConnection]:
    url = server.api.replace("https://", "wss://") + "/ws"
    with connect(url, ssl=tls.context(), open_timeout=10) as ws:
        send(ws, type="auth", token=token)
        assert receive(ws)["type"] == "ready"
        yield ws


def ws_run(ws: ClientConnection, request_id: str, **message: Any) -> list[dict[str, Any]]:
    """Send a `workflow.execute` and read its answers up to the final status."""
    send(ws, type="workflow.execute", id=request_id, **message)
    answers = []
    while True:
        answer = receive(ws)
        if answer.get("request_id") != request_id:
            continue
        answers.append(answer)
        if answer["type"] == "error" or (
            answer["type"] == "status" and answer["data"]["status"] in FINAL
        ):
            return answers


async def mcp_call(server: Server, tls: Tls, token: str, tool: str, arguments: Any) -> Any:
    async with (
        httpx2.AsyncClient(verify=tls.context(), headers=bearer(token), timeout=30) as http,
        streamable_http_client(f"{server.url}/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        return await session.call_tool(tool, arguments)


def mcp_raw(server: Server, tls: Tls, token: str, body: str) -> httpx.Response:
    """A JSON-RPC message posted as is (the SDK would not send a body this deep)."""
    headers = {
        **bearer(token),
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    return httpx.post(
        f"{server.url}/mcp", content=body, headers=headers, verify=tls.context(), timeout=30
    )


def login(http: httpx.Client, name: str) -> dict[str, str]:
    """Signed in again (after a restart), with the password `create_accounts` gave `name`."""
    body = {"username": name, "password": f"{name}-password"}
    response = http.post("/auth/login", json=body)
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


DEEP = "<deep>"


def with_deep(template: Any, depth: int) -> str:
    """`template` as JSON text, with the string `DEEP` replaced by objects nested `depth` deep
    (as text: the client's own JSON encoder would not go that deep)."""
    return json.dumps(template).replace(f'"{DEEP}"', '{"v":' * depth + "1" + "}" * depth)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"v": value}
    return value


# -- servers of this module's own ------------------------------------------------------------
def writer_server(folder: Path, tls: Tls, **env: str) -> Server:
    """A production-profile server over HTTPS that also serves `writer_flows.py`."""
    targets = ["nanobrain.examples", FLOWS, WRITER_FLOWS]
    return Server(folder, targets=targets, env=production_env(tls, **env))


@pytest.fixture(scope="module")
def flows_server(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    server = writer_server(tmp_path_factory.mktemp("writer-flows"), tls).start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def flows_accounts(flows_server: Server, tls: Tls) -> Accounts:
    return create_accounts(flows_server.api, verify=tls.context())


# -- integers past 64 bits ---------------------------------------------------------------------
def test_integers_past_64_bits_are_exact_on_every_transport_and_hold_up_nobody(
    production: Server, production_accounts: Accounts, tls: Tls
) -> None:
    accounts = production_accounts
    user, other = accounts.headers("user"), accounts.headers("other-user")
    with client(production, tls) as http:
        # Another user's long execution runs meanwhile.
        long = execute(http, other, "simulation", False, steps=40, step_seconds=0.05)
        assert long.status_code == 202, long.text
        long_id = long.json()["execution_id"]

        for seed in SEEDS:
            # HTTP, waiting: the seed is input; `lucky` returns a count of random + seed.
            waited = timed(lambda s=seed: execute(http, user, "simulation", True, steps=2,
                                                  step_seconds=0, seed=s))  # fmt: skip
            assert waited.status_code == 200, waited.text
            assert waited.json()["status"] == "succeeded"
            lucky = timed(lambda s=seed: execute(http, user, "lucky", True, seed=s))
            assert lucky.status_code == 200 and lucky.json()["status"] == "succeeded"
            assert 0 <= lucky.json()["output"]["count"] - seed < 2**48
            lucky_id, count = lucky.json()["execution_id"], lucky.json()["output"]["count"]

            # HTTP, not waiting: acknowledged at once (its record durable), then finished.
            started = timed(lambda s=seed: execute(http, user, "lucky", False, seed=s))
            assert started.status_code == 202, started.text
            background = started.json()["execution_id"]
            assert final_status(http, user, background)["status"] == "succeeded"

            # Status, results, events and history all give the exact value back.
            results = http.get(f"/workflows/{lucky_id}/results", headers=user).json()
            assert results["output"]["count"] == count
            events = collect(http, f"/workflows/{lucky_id}/events", headers=user)
            result = [event for event in events if event.event == "result"]
            assert result and result[0].data["data"]["output"]["count"] == count
            assert events[-1].data["data"]["status"] == "succeeded"
            assert history_item(http, user, lucky_id)["input"] == {"seed": seed}
            assert history_item(http, user, waited.json()["execution_id"])["input"]["seed"] == seed
            assert history_item(http, user, background)["input"] == {"seed": seed}

            # WebSocket.
            with socket(production, tls, accounts.tokens["user"]) as ws:
                answers = ws_run(ws, "big", workflow="lucky", input={"seed": seed})
            outputs = [a["data"]["output"]["count"] for a in answers if a["type"] == "result"]
            assert answers[-1]["data"]["status"] == "succeeded", answers[-1]
            assert len(outputs) == 1 and 0 <= outputs[0] - seed < 2**48

            # MCP, with the official client.
            called = asyncio.run(
                mcp_call(production, tls, accounts.tokens["user"], "lucky", {"seed": seed})
            )
            assert not called.is_error, called.content
            assert 0 <= called.structured_content["count"] - seed < 2**48
            assert 0 <= json.loads(called.content[0].text)["count"] - seed < 2**48

            # /v1: sampling options past 64 bits are ignored, as OpenAI's own `seed` may be.
            completion = timed(lambda s=seed: http.post(
                f"{production.url}/v1/chat/completions", headers=user, json={
                    "model": "parrot", "seed": s, "max_tokens": s,
                    "messages": [{"role": "user", "content": f"seed {s}"}],
                },
            ))  # fmt: skip
            assert completion.status_code == 200, completion.text
            assert str(seed) in completion.json()["choices"][0]["message"]["content"]

        # Everyone else's requests answer promptly, and the long run finishes with its result.
        for headers in (other, user):
            queued = timed(lambda h=headers: execute(http, h, "echo", False, message="next"))
            assert queued.status_code == 202, queued.text
            assert timed(lambda h=headers: http.get("/executions", headers=h)).status_code == 200
            chat = timed(lambda h=headers: http.post("/chat", headers=h, json={"message": "hi"}))
            assert chat.status_code == 200, chat.text
        assert final_status(http, other, long_id)["status"] == "succeeded"
        assert http.get(f"/workflows/{long_id}/results", headers=other).status_code == 200
        health = http.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["checks"]["record_writer"]["status"] == "ok"


def test_a_bare_integer_output_and_chat_state_past_64_bits_are_stored_exactly(
    flows_server: Server, flows_accounts: Accounts, tls: Tls
) -> None:
    user = flows_accounts.headers("user")
    with client(flows_server, tls) as http:
        for exponent, negative in ((64, False), (70, True), (300, False)):
            body = timed(lambda e=exponent, n=negative: execute(
                http, user, "power-of-two", True, exponent=e, negative=n
            ))  # fmt: skip
            assert body.status_code == 200, body.text
            expected = -(2**exponent) if negative else 2**exponent
            assert body.json()["output"] == expected
            execution_id = body.json()["execution_id"]
            results = http.get(f"/workflows/{execution_id}/results", headers=user)
            assert results.json()["output"] == expected
        mirrored = execute(http, user, "mirror", True, value={"n": [2**100, -(2**100)]})
        assert mirrored.json()["output"] == {"n": [2**100, -(2**100)]}
        # A chat session's state keeps a counter past 64 bits from turn to turn.
        first = http.post("/chat", headers=user, json={"message": "one", "workflow": "keeper"})
        assert first.status_code == 200, first.text
        session = first.json()["session_id"]
        second = http.post("/chat", headers=user, json={"message": "two", "session_id": session})
        assert second.json()["reply"] == f"counter {2**80 + 2}"


# -- nesting past the limit --------------------------------------------------------------------
@pytest.mark.parametrize("depth", [65, 300, 1100])
def test_nesting_past_the_limit_is_refused_on_every_transport(
    flows_server: Server, flows_accounts: Accounts, tls: Tls, depth: int
) -> None:
    token = flows_accounts.tokens["user"]
    user = {**flows_accounts.headers("user"), "Content-Type": "application/json"}
    with client(flows_server, tls) as http:
        for path, template in (
            ("/workflows/execute", {"workflow": "mirror", "input": {"value": DEEP}}),
            ("/tools/gc-content/execute", {"arguments": {"sequence": DEEP}}),
            ("/chat", {"message": "hi", "attachments": [DEEP]}),
            (
                f"{flows_server.url}/v1/chat/completions",
                {"model": "parrot", "messages": [{"role": "user", "content": "x", "n": DEEP}]},
            ),
        ):
            refused = http.post(path, headers=user, content=with_deep(template, depth))
            assert refused.status_code == 400, (path, refused.status_code, refused.text)
            assert "nests deeper" in refused.text
        multipart = http.post(
            "/workflows/execute",
            headers=flows_accounts.headers("user"),
            files={"request": (None, with_deep({"workflow": "mirror", "input": DEEP}, depth))},
        )
        assert multipart.status_code == 400, multipart.text
        call = {"name": "mirror", "arguments": {"value": DEEP}}
        mcp = mcp_raw(
            flows_server,
            tls,
            token,
            with_deep({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}, depth),
        )
        assert mcp.status_code == 400, mcp.text

        with socket(flows_server, tls, token) as ws:
            ws.send(
                with_deep(
                    {"type": "workflow.execute", "id": "deep", "workflow": "mirror",
                     "input": {"value": DEEP}},
                    depth,
                )
            )  # fmt: skip
            answer = receive(ws)
            assert answer["type"] == "error" and answer["data"]["status"] == 400, answer
            send(ws, type="ping", id="after")  # the socket goes on
            assert receive(ws) == {"type": "pong", "request_id": "after"}

        # Right at the limit is fine, and the server is unharmed.
        within = execute(http, flows_accounts.headers("user"), "mirror", True, value=nested(60))
        assert within.status_code == 200 and within.json()["output"] == nested(60)
        assert http.get("/health").status_code == 200


def test_not_a_number_is_not_json(flows_server: Server, flows_accounts: Accounts, tls: Tls) -> None:
    user = {**flows_accounts.headers("user"), "content-type": "application/json"}
    with client(flows_server, tls) as http:
        for literal in ("NaN", "Infinity", "-Infinity"):
            body = f'{{"workflow": "mirror", "input": {{"value": {literal}}}}}'
            refused = http.post("/workflows/execute", headers=user, content=body)
            assert refused.status_code == 400, refused.text
        kept = execute(http, user, "mirror", True, value="NaN and Infinity are fine in strings")
        assert kept.json()["output"] == "NaN and Infinity are fine in strings"


# -- outputs nothing can encode ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("surrogate", "lone surrogate"),
        ("deep", "deeper|depth"),
        ("object", "object"),
        ("event", "chunk event"),
        ("progress", "progress message"),
    ],
)
def test_an_output_nothing_can_encode_fails_its_execution_alone(
    flows_server: Server, flows_accounts: Accounts, tls: Tls, kind: str, reason: str
) -> None:
    user, other = flows_accounts.headers("user"), flows_accounts.headers("other-user")
    with client(flows_server, tls) as http:
        neighbour = execute(http, other, "simulation", False, steps=10, step_seconds=0.05)
        assert neighbour.status_code == 202
        for wait in (True, False):
            response = timed(lambda w=wait: execute(http, user, "unencodable", w, kind=kind))
            assert response.status_code in (200, 202), response.text
            execution_id = response.json()["execution_id"]
            status = final_status(http, user, execution_id)
            assert status["status"] == "failed", status
            assert status["error"]["type"] == "unencodable_output", status
            assert re.search(reason, status["error"]["message"]), status["error"]
            results = http.get(f"/workflows/{execution_id}/results", headers=user)
            assert results.status_code == 409
            events = collect(http, f"/workflows/{execution_id}/events", headers=user)
            assert events[-1].data["data"]["status"] == "failed"
            assert history_item(http, user, execution_id)["status"] == "failed"
        assert final_status(http, other, neighbour.json()["execution_id"])["status"] == "succeeded"
        assert timed(lambda: execute(http, other, "echo", False, message="ok")).status_code == 202
        assert http.get("/health").status_code == 200


def test_chat_state_nothing_can_store_fails_the_turn_alone(
    flows_server: Server, flows_accounts: Accounts, tls: Tls
) -> None:
    user = flows_accounts.headers("user")
    with client(flows_server, tls) as http:
        first = http.post("/chat", headers=user, json={"message": "one", "workflow": "keeper"})
        session = first.json()["session_id"]
        turn = timed(lambda: http.post(
            "/chat", headers=user, json={"message": "unstorable", "session_id": session}
        ))  # fmt: skip
        assert turn.status_code == 422, turn.text  # a failed turn, as chat answers one
        assert turn.json()["error"]["type"] == "unencodable_output"
        execution = turn.json()["execution_id"]
        status = final_status(http, user, execution)
        assert status["status"] == "failed"
        assert status["error"]["type"] == "unencodable_output"
        assert "session's state" in status["error"]["message"]
        # The session goes on from the state its last good turn saved.
        after = http.post("/chat", headers=user, json={"message": "two", "session_id": session})
        assert after.json()["reply"] == f"counter {2**80 + 2}"


# -- a database that refuses writes, and a SIGTERM -----------------------------------------------
@contextlib.contextmanager
def refusing_writes(data_dir: Path) -> Iterator[None]:
    """The server's SQLite database and write-ahead log immutable (`chattr +i`, which holds even
    for root): every write fails with a disk I/O error, reads go on."""
    files = [data_dir / "nanobrain.db", data_dir / "nanobrain.db-wal"]
    try:
        for file in files:
            subprocess.run(["chattr", "+i", str(file)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make the database immutable here: {exc}")
    try:
        yield
    finally:
        for file in files:
            subprocess.run(["chattr", "-i", str(file)], check=False, capture_output=True)


def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.1)


def stop_within(server: Server, seconds: float) -> None:
    started = time.monotonic()
    assert server.stop(timeout=seconds + 10), server.log()[-3000:]
    took = time.monotonic() - started
    assert took < seconds, f"SIGTERM took {took:.1f} s"


GRACE = {"NANOBRAIN_RUNTIME__SHUTDOWN_GRACE_SECONDS": "2"}
# uvicorn waits grace + 5 s for requests in flight, then the executor grace, then the final
# flush (deadline: flush_timeout, 2 s here), then the drain of streams: well within this.
STOP_WITHIN = 20.0


def test_a_database_refusing_writes_gives_503_then_recovers_losing_nothing(
    tmp_path: Path, tls: Tls
) -> None:
    env = {**GRACE, "NANOBRAIN_RUNTIME__FLUSH_TIMEOUT_SECONDS": "2"}
    server = writer_server(tmp_path / "data", tls, **env).start()
    try:
        accounts = create_accounts(server.api, verify=tls.context())
        user, admin = accounts.headers("user"), accounts.headers("admin")
        with client(server, tls) as http:
            before = execute(http, user, "lucky", True, seed=2**64)
            assert before.status_code == 200
            with refusing_writes(server.data_dir):
                # What needs a durable record waits a bounded time, then 503 with Retry-After.
                refused = timed(lambda: execute(http, user, "echo", False, message="x"))
                assert refused.status_code == 503, refused.text
                assert int(refused.headers["Retry-After"]) >= 1
                # What needs none goes on.
                during = timed(lambda: execute(http, user, "lucky", True, seed=-(2**70)))
                assert during.status_code == 200 and during.json()["status"] == "succeeded"
                # /health names the stuck writer; metrics show it.
                until(lambda: http.get("/health").status_code == 503, 10, "/health 503")
                checks = http.get("/health").json()["checks"]
                assert checks["record_writer"]["status"] == "down"
                assert checks["record_writer"]["backlog"] >= 1
                metrics = http.get(f"{server.url}/api/v1/metrics", headers=admin).text
                backlog = next(
                    line for line in metrics.splitlines()
                    if line.startswith("nanobrain_record_backlog ")
                )  # fmt: skip
                assert float(backlog.split()[1]) >= 1
                assert 'nanobrain_record_write_failures_total{reason="unavailable"}' in metrics
                for call in (
                    lambda: http.get("/executions", headers=user),
                    lambda: http.post("/chat", headers=user, json={"message": "hi"}),
                    lambda: execute(http, user, "echo", False, message="again"),
                ):
                    answer = timed(call)
                    assert answer.status_code == 503, answer.text
                    assert "Retry-After" in answer.headers
            # Writable again: healthy within the backoff, and nothing was lost.
            until(lambda: http.get("/health").status_code == 200, 20, "/health 200 again")
            item = history_item(http, user, during.json()["execution_id"])
            assert item["status"] == "succeeded" and item["input"] == {"seed": -(2**70)}
            assert history_item(http, user, before.json()["execution_id"])["status"] == "succeeded"
            refused_id = [
                i for i in http.get("/executions", headers=user).json()["items"]
                if i["workflow"] == "echo"
            ]  # fmt: skip
            assert refused_id and all(i["status"] == "failed" for i in refused_id)
            assert refused_id[0]["error"]["type"] == "store_unavailable"
            assert execute(http, user, "echo", False, message="y").status_code == 202

            # Stopping while the database refuses writes still ends within the grace period.
            long = execute(http, user, "simulation", False, steps=400, step_seconds=0.05)
            assert long.status_code == 202
            with refusing_writes(server.data_dir):
                stop_within(server, STOP_WITHIN)
        server.start()
        with client(server, tls) as http:
            user = login(http, "user")
            for acknowledged in (before, during):
                status = final_status(http, user, acknowledged.json()["execution_id"], 1)
                assert status["status"] == "succeeded"
    finally:
        server.kill()


def test_sigterm_while_users_work_stops_in_time_and_loses_nothing_acknowledged(
    tmp_path: Path, tls: Tls
) -> None:
    server = writer_server(tmp_path / "data", tls, **GRACE).start()
    try:
        accounts = create_accounts(server.api, verify=tls.context())
        user, other = accounts.headers("user"), accounts.headers("other-user")
        acknowledged: dict[str, tuple[dict[str, str], Any]] = {}
        with client(server, tls) as http:
            # Another user's long simulation finishes first (the one the issue saw lost).
            done = execute(http, other, "simulation", False, steps=20, step_seconds=0.02)
            assert final_status(http, other, done.json()["execution_id"])["status"] == "succeeded"
            acknowledged[done.json()["execution_id"]] = (other, None)
            for seed in SEEDS:
                for wait in (True, False):
                    started = execute(http, user, "lucky", wait, seed=seed)
                    assert started.status_code in (200, 202), started.text
                    acknowledged[started.json()["execution_id"]] = (user, seed)
            for made in list(acknowledged):
                final_status(http, acknowledged[made][0], made)
            running = execute(http, other, "simulation", False, steps=400, step_seconds=0.05)
            assert running.status_code == 202
            outcomes: list[httpx.Response] = []

            def waiting() -> None:  # a waited run still going when the server stops
                with contextlib.suppress(httpx.HTTPError):
                    outcomes.append(execute(http, user, "simulation", True, steps=400,
                                            step_seconds=0.05, seed=2**64))  # fmt: skip

            waiter = threading.Thread(target=waiting)
            waiter.start()
            until(
                lambda: any(
                    item["status"] == "running" and item["input"].get("seed") == 2**64
                    for item in http.get("/executions", headers=user).json()["items"]
                ),
                10,
                "the waited run started",
            )
            waited_id = next(
                item["execution_id"]
                for item in http.get("/executions", headers=user).json()["items"]
                if item["status"] == "running"
            )
            stop_within(server, STOP_WITHIN)
            waiter.join(30)
        server.start()
        with client(server, tls) as http:
            tokens = {name: login(http, name) for name in ("user", "other-user")}
            for execution_id, (headers, seed) in acknowledged.items():
                owner = tokens["other-user" if headers is other else "user"]
                status = final_status(http, owner, execution_id, 1)
                assert status["status"] == "succeeded", status
                if seed is not None:
                    output = http.get(f"/workflows/{execution_id}/results", headers=owner).json()
                    assert 0 <= output["output"]["count"] - seed < 2**48
            # Cut off by the shutdown: failed, interrupted; the waited one too, not cancelled.
            for execution_id, owner in (
                (running.json()["execution_id"], tokens["other-user"]),
                (waited_id, tokens["user"]),
            ):
                status = final_status(http, owner, execution_id, 1)
                assert status["status"] == "failed", status
                assert status["error"]["type"] == "interrupted", status
    finally:
        server.kill()


@pytest.mark.distributed
def test_values_postgresql_cannot_hold_are_refused_or_fail_alone(tmp_path: Path, tls: Tls) -> None:
    """PostgreSQL's text cannot hold NUL (SQLite's can): a request bringing one gets a 4xx, a run
    reporting one fails alone, and the audit log is not held up by a sign-in attempt with one."""
    with backing("writer_nul") as services:
        env = {"NANOBRAIN_DATABASE_URL": services.env["NANOBRAIN_DATABASE_URL"]}
        server = writer_server(tmp_path / "data", tls, **env).start()
        try:
            accounts = create_accounts(server.api, verify=tls.context())
            user, admin = accounts.headers("user"), accounts.headers("admin")
            with client(server, tls) as http:
                sign_in = http.post("/auth/login", json={"username": "a\x00b", "password": "p"})
                assert sign_in.status_code in (401, 422), sign_in.text
                chat = http.post("/chat", headers=user, json={"message": "a\x00b"})
                assert chat.status_code == 422, chat.text
                created = http.post(
                    "/admin/users",
                    headers=admin,
                    json={"username": "x\x00y", "password": "a-long-password", "role": "user"},
                )
                assert created.status_code == 422, created.text
                # JSON holds NUL as an escape: stored and returned exactly.
                mirrored = execute(http, user, "mirror", True, value="a\x00b")
                assert mirrored.json()["output"] == "a\x00b"
                assert history_item(http, user, mirrored.json()["execution_id"])["input"] == {
                    "value": "a\x00b"
                }
                # A progress message the database refuses fails that run, and only that run.
                run = timed(lambda: execute(http, user, "nul-progress", True, seconds=2))
                assert run.json()["status"] == "failed", run.json()
                assert run.json()["error"]["type"] == "unwritable_record"
                status = final_status(http, user, run.json()["execution_id"], 1)
                assert status["status"] == "failed"
                events = collect(
                    http, f"/workflows/{run.json()['execution_id']}/events", headers=user
                )
                assert events[-1].data["data"]["status"] == "failed"
                assert timed(lambda: execute(http, user, "echo", False)).status_code == 202
                # The audit log goes on after the sign-in attempt it had to alter.
                assert (
                    http.post(
                        "/auth/login", json={"username": "later", "password": "p"}
                    ).status_code
                    == 401
                )

                def audited() -> bool:
                    page = http.get("/admin/audit", headers=admin, params={"action": "login"})
                    return any(entry["actor"] == "later" for entry in page.json()["items"])

                until(audited, 10, "the later sign-in attempt is in the audit log")
                assert http.get("/health").status_code == 200
        finally:
            server.kill()
