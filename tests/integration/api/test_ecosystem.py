"""The OpenAI-compatible endpoint with the official `openai` client, and MCP with the official
`mcp` client, against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.support.server import Server


@pytest.fixture
def ai(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused-without-auth")


def test_models_are_the_chat_workflows_and_agents(ai: openai.OpenAI) -> None:
    models = {model.id for model in ai.models.list()}
    assert {"assistant", "parrot", "lab-assistant"} <= models
    assert "text-stats" not in models  # not a chat workflow


def test_a_completion_carries_the_conversation(ai: openai.OpenAI) -> None:
    completion = ai.chat.completions.create(
        model="parrot",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "noted"},
            {"role": "user", "content": [{"type": "text", "text": "now this"}]},
        ],
    )
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.message.content == "turn 1 (history 3): now this"
    assert completion.usage is not None and completion.model == "parrot"


def test_a_streamed_completion(ai: openai.OpenAI) -> None:
    chunks = list(
        ai.chat.completions.create(
            model="parrot",
            messages=[{"role": "user", "content": "a b c"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "turn 1 (history 0): a b c"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].usage is not None and not chunks[-1].choices
    assert len({c.id for c in chunks}) == 1


def test_openai_shaped_errors(ai: openai.OpenAI, server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        ai.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        ai.chat.completions.create(model="parrot", messages=[{"role": "assistant", "content": "x"}])
    raw = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "parrot"})
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"


async def mcp_session(url: str) -> Any:
    async with (
        streamable_http_client(url) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        stats = await session.call_tool("text-stats", {"text": "One fish. Two fish."})
        gc = await session.call_tool("gc-content", {"sequence": "GGCCAT"})
        bad = await session.call_tool("gc-content", {"sequence": "XYZ"})
        invalid = await session.call_tool("text-stats", {"text": 5})
        return tools, stats, gc, bad, invalid


def test_tools_and_workflows_are_mcp_tools(server: Server) -> None:
    tools, stats, gc, bad, invalid = asyncio.run(mcp_session(f"{server.url}/mcp"))
    assert {"gc-content", "reverse-complement", "text-stats", "sequence-analysis"} <= set(tools)
    assert tools["text-stats"].input_schema["properties"]["text"]["type"] == "string"
    assert not stats.is_error and stats.structured_content["words"] == 4
    assert not gc.is_error and gc.structured_content == {"result": 66.67}
    assert bad.is_error and "not a DNA sequence" in bad.content[0].text
    assert invalid.is_error


def test_mcp_needs_the_same_credentials(tmp_path: Path) -> None:
    server = Server(
        tmp_path / "data", env={"NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__ENABLED": "true"}
    ).start()
    try:
        response = httpx.post(
            f"{server.url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        assert response.status_code == 401 and "WWW-Authenticate" in response.headers
        assert httpx.get(f"{server.url}/v1/models").status_code == 401
    finally:
        server.kill()
