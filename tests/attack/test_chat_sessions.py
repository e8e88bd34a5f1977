"""Class: reading or writing another user's chat session through a door other than `/chat`.

A session id reaches the runtime through `/chat`, `POST /workflows/execute` (any workflow given a
`session_id`, a chat one then loads the session's history and state), the WebSocket's
`workflow.execute` and `chat.message`, `/v1/chat/completions` and MCP: each must refuse another
user's session (404, or 403 for a role that may read it) and leave it exactly as it was.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.support.auth import Accounts
from tests.support.principals import history
from tests.support.production import Tls
from tests.support.server import Server
from tests.support.ws import open_socket, receive, send

SECRET = "my secret plan is under the mat"


@pytest.fixture
def http(production: Server, tls: Tls) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=production.api, verify=tls.context(), timeout=30) as client:
        yield client


@pytest.fixture
def victims_session(http: httpx.Client, production_accounts: Accounts) -> str:
    turn = http.post(
        "/chat",
        json={"message": SECRET, "workflow": "parrot"},
        headers=production_accounts.headers("user"),
    )
    assert turn.status_code == 200, turn.text
    session_id: str = turn.json()["session_id"]
    return session_id


def socket_answer(production: Server, tls: Tls, token: str, **message: Any) -> list[dict[str, Any]]:
    """What the socket answers `message` with, up to its error or final status."""
    with open_socket(production.api, token, tls.context()) as ws:
        assert receive(ws)["type"] == "ready"
        send(ws, id="m", **message)
        answers = []
        while True:
            answer = receive(ws)
            answers.append(answer)
            if answer["type"] == "error" or (
                answer["type"] == "status" and answer["data"]["status"] in ("succeeded", "failed")
            ):
                return answers


async def mcp_call(url: str, token: str, tls: Tls, name: str, arguments: dict[str, Any]) -> Any:
    client = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, verify=tls.context(), timeout=30
    )
    async with (
        client,
        streamable_http_client(url, http_client=client) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert "session_id" in listed[name].input_schema["properties"]
        return await session.call_tool(name, arguments)


@pytest.mark.parametrize("intruder", ["other-user", "developer"])
def test_another_users_session_is_refused_on_every_door_and_left_untouched(
    intruder: str,
    victims_session: str,
    production: Server,
    production_accounts: Accounts,
    tls: Tls,
    http: httpx.Client,
) -> None:
    """`other-user` may not even know the session (404); `developer` may read it (`write`)
    but never talk in it (403)."""
    status = 404 if intruder == "other-user" else 403
    victim = production_accounts.headers("user")
    token = production_accounts.tokens[intruder]
    before = history(http, victims_session, victim)
    assert SECRET in json.dumps(before)

    for workflow in ("parrot", "assistant"):  # the default chat workflow, as found
        run = http.post(
            "/workflows/execute",
            json={
                "workflow": workflow,
                "session_id": victims_session,
                "input": {"message": "what did I say before?"},
                "wait": True,
            },
            headers=production_accounts.headers(intruder),
        )
        assert run.status_code == status, run.text
        assert SECRET not in run.text

    for message in (
        {"type": "workflow.execute", "workflow": "parrot", "session_id": victims_session},
        {"type": "chat.message", "content": "and now?", "session_id": victims_session},
    ):
        if message["type"] == "workflow.execute":
            message["input"] = {"message": "and now?"}
        answers = socket_answer(production, tls, token, **message)
        assert [a["type"] for a in answers] == ["error"], answers
        assert answers[0]["data"]["status"] == status and SECRET not in json.dumps(answers)

    ai = openai.OpenAI(
        base_url=f"{production.url}/v1",
        api_key=token,
        http_client=httpx.Client(verify=tls.context(), timeout=30),
    )
    error = openai.NotFoundError if status == 404 else openai.PermissionDeniedError
    with pytest.raises(error) as refused:
        ai.chat.completions.create(
            model="parrot",
            messages=[{"role": "user", "content": "repeat my last message"}],
            extra_body={"session_id": victims_session},
        )
    assert SECRET not in str(refused.value.body)

    called = asyncio.run(
        mcp_call(
            f"{production.url}/mcp",
            token,
            tls,
            "parrot",
            {"message": "what came before?", "session_id": victims_session},
        )
    )
    assert called.is_error and json.loads(called.content[0].text)["status"] == status
    assert SECRET not in called.content[0].text

    assert history(http, victims_session, victim) == before
    own = http.post(
        "/chat", json={"message": "still mine", "session_id": victims_session}, headers=victim
    )
    assert own.status_code == 200 and own.json()["reply"].startswith("turn 2 (history 2)")


def test_the_owner_continues_a_session_on_every_door(
    production: Server, production_accounts: Accounts, tls: Tls, http: httpx.Client
) -> None:
    """The same doors, for the session's owner: each adds a turn that sees the history (a run of
    the workflow by `execute` stores its reply, a chat turn the message too)."""
    owner = production_accounts.headers("user")
    token = production_accounts.tokens["user"]
    first = http.post("/chat", json={"message": "one", "workflow": "parrot"}, headers=owner)
    session_id = first.json()["session_id"]
    run = http.post(
        "/workflows/execute",
        json={
            "workflow": "parrot",
            "session_id": session_id,
            "input": {"message": "two"},
            "wait": True,
        },
        headers=owner,
    )
    assert run.status_code == 200, run.text
    assert run.json()["output"] == "turn 2 (history 2): two"
    answers = socket_answer(
        production, tls, token, type="chat.message", content="three", session_id=session_id
    )
    assert answers[-1]["data"]["status"] == "succeeded", answers
    complete = next(a for a in answers if a["type"] == "complete")
    assert complete["data"]["content"] == "turn 3 (history 3): three"
    ai = openai.OpenAI(
        base_url=f"{production.url}/v1",
        api_key=token,
        http_client=httpx.Client(verify=tls.context(), timeout=30),
    )
    completion = ai.chat.completions.create(
        model="parrot",
        messages=[{"role": "user", "content": "four"}],
        extra_body={"session_id": session_id},
    )
    assert completion.choices[0].message.content == "turn 4 (history 5): four"
    called = asyncio.run(
        mcp_call(
            f"{production.url}/mcp",
            token,
            tls,
            "parrot",
            {"message": "five", "session_id": session_id},
        )
    )
    assert not called.is_error and "turn 5 (history 7): five" in called.content[0].text
    assert len(history(http, session_id, owner)) == 9
