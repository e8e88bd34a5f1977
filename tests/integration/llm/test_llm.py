"""Both LLM providers against a real engine (a tiny random GGUF model, in-process and behind
llama.cpp's server), and an agent calling a tool through NanoBrain. The model's text is
gibberish: these tests check structure, token counts and finish reasons, never text."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nanobrain.llm import (
    Finished,
    LLMProvider,
    RetryPolicy,
    TextDelta,
    ToolSpec,
    TransientLLMError,
)
from nanobrain.llm.local import LlamaCppProvider
from nanobrain.llm.openai import OpenAIProvider
from tests.support.llama import llama_server, tiny_model  # noqa: F401 - fixtures
from tests.support.server import AGENTS, FLOWS, Server, free_port
from tests.support.sse import collect

SQUARE = ToolSpec(
    "square",
    "The square of an integer.",
    {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
)
HELLO = [{"role": "user", "content": "hello"}]


async def exercise(provider: LLMProvider) -> None:
    events = [event async for event in provider.stream(HELLO, max_tokens=24)]
    deltas = [event for event in events if isinstance(event, TextDelta)]
    finished = events[-1]
    assert isinstance(finished, Finished) and events.count(finished) == 1
    assert finished.reason == "length" and deltas and not finished.tool_calls
    assert finished.usage.completion_tokens >= len(deltas)

    whole = await provider.complete(HELLO, max_tokens=24)
    assert whole.finish_reason == "length"
    assert whole.usage.prompt_tokens > 0 and whole.usage.completion_tokens > 0

    called = await provider.complete(HELLO, tools=[SQUARE], tool_choice="square")
    assert called.finish_reason == "tool_calls"
    [call] = called.tool_calls
    assert call.name == "square" and call.id
    assert isinstance(json.loads(call.arguments)["n"], int)  # grammar-constrained arguments

    streamed = [e async for e in provider.stream(HELLO, tools=[SQUARE], tool_choice="square")]
    assert isinstance(streamed[-1], Finished) and streamed[-1].reason == "tool_calls"
    assert [c.name for c in streamed[-1].tool_calls] == ["square"]
    await provider.aclose()


def test_the_local_provider_runs_a_gguf_in_process(tiny_model: Path) -> None:  # noqa: F811
    provider = LlamaCppProvider(tiny_model, context_length=2048, seed=7)
    asyncio.run(exercise(provider))


def test_the_openai_provider_against_llama_cpp_server(llama_server: str) -> None:  # noqa: F811
    asyncio.run(exercise(OpenAIProvider("tiny", base_url=llama_server)))


def test_transient_failures_are_retried_with_backoff_then_reported() -> None:
    retry = RetryPolicy(max_retries=2, backoff_seconds=0.2, timeout_seconds=5)
    provider = OpenAIProvider("x", base_url=f"http://127.0.0.1:{free_port()}/v1", retry=retry)
    started = time.monotonic()
    with pytest.raises(TransientLLMError):
        asyncio.run(provider.complete(HELLO))
    assert time.monotonic() - started >= 0.1 + 0.2  # two backoffs, each at least half its step


@pytest.fixture(scope="module")
def llm_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    server = Server(
        tmp_path_factory.mktemp("llm-server"),
        targets=["nanobrain.examples", FLOWS, AGENTS],
        env={
            "NANOBRAIN_LLM__PROVIDER": "local",
            "NANOBRAIN_LLM__MODEL_PATH": str(tiny_model),
            "NANOBRAIN_LLM__MAX_TOKENS": "16",
            "NANOBRAIN_LLM__SEED": "3",
        },
    ).start()
    yield server
    server.kill()


def test_an_agent_calls_a_tool_and_uses_its_result(llm_server: Server) -> None:
    with httpx.Client(base_url=llm_server.api, timeout=60) as client:
        events = collect(
            client,
            "/agents/squarer/process",
            method="POST",
            json_body={"input": "7", "stream": True},
        )
        kinds = [e.event for e in events]
        assert kinds.index("typing") < kinds.index("tool_call") < kinds.index("tool_result")
        assert kinds.index("tool_result") < kinds.index("complete")
        call = events[kinds.index("tool_call")].data["data"]
        result = events[kinds.index("tool_result")].data["data"]
        n = json.loads(call["arguments"])["n"]
        assert call["name"] == "square" and result["output"] == n * n
        assert result["id"] == call["id"]
        # The tool ran through the execution path: it has its own record.
        tool_run = client.get(f"/workflows/{result['execution_id']}/results").json()
        assert tool_run["output"] == n * n
        complete = events[kinds.index("complete")].data["data"]
        answer = "".join(e.data["data"]["delta"] for e in events if e.event == "chunk")
        assert complete["content"] == answer
        usage = complete["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        # The result went back to the model: the second call's prompt held it, and history has it.
        history = client.get("/chat/history", params={"session_id": complete["session_id"]}).json()
        assert [m["role"] for m in history] == ["user", "tool", "assistant"]
        assert json.loads(history[1]["content"]) == {"output": n * n}
        assert history[2]["usage"]["prompt_tokens"] == usage["prompt_tokens"]

        whole = client.post("/agents/squarer/process", json={"input": "3"})
        assert whole.status_code == 200, whole.text
        assert set(whole.json()) >= {"output", "session_id", "message_id", "usage"}


def test_the_assistant_is_an_agent_when_an_llm_is_configured(llm_server: Server) -> None:
    with httpx.Client(base_url=llm_server.api, timeout=60) as client:
        reply = client.post("/chat", json={"message": "hello"}).json()
        assert reply["usage"]["completion_tokens"] > 0  # it asked the model, not the router
        capabilities = client.get("/agents/squarer/capabilities").json()
        assert [tool["name"] for tool in capabilities["tools"]] == ["square"]
