"""The Python API: `nanobrain.testing` runs a workflow on the real runtime without a server;
`nanobrain.create_app` is an ASGI app any server runs; `import nanobrain` stays core-only.
The first workflows and tests mirror the README's "Serve and test from Python"."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

import nanobrain
import nanobrain.testing
from nanobrain import Context, workflow
from nanobrain.config import load_settings
from nanobrain.config.loading import nest
from nanobrain.core import LLM, RegistrationError, Registry
from nanobrain.core.llm import Finished, LLMEvent, TextDelta, Usage
from nanobrain.llm.base import ChatRequest, LLMProvider, MeteredLLM
from nanobrain.runtime.assembly import assemble


@workflow
async def add(a: int, b: int) -> int:
    return a + b


@workflow(mode="job")
async def count(ctx: Context, n: int) -> list[int]:
    async with ctx.steps("count")["count"] as step:
        for i in range(n):
            step.progress((i + 1) / n, f"{i + 1} of {n}")
            ctx.emit(i)
    return list(range(n))


@workflow
async def fails(ctx: Context, reason: str) -> str:
    ctx.progress(0.5, "half way")
    raise ValueError(reason)


async def readme_test_count() -> None:
    result = await nanobrain.testing.run(count, n=3)
    assert result.status == "succeeded" and result.output == [0, 1, 2]
    assert result.chunks == [0, 1, 2] and result.steps == ["count"]
    assert result.progress[-1]["fraction"] == 1.0
    async with nanobrain.testing.Harness(add, count) as harness:  # several runs, one runtime
        assert (await harness.run(add, a=1, b=2)).output == 3


def test_the_readme_example_runs() -> None:
    asyncio.run(readme_test_count())


def test_a_failure_is_a_result_with_its_error_and_events() -> None:
    result = asyncio.run(nanobrain.testing.run(fails, reason="no data"))
    assert result.status == "failed" and result.output is None
    assert result.error is not None and "no data" in result.error["message"]
    assert result.progress[0]["message"] == "half way"
    assert [(event.type, event.data.get("status")) for event in result.events][-2:] == [
        ("error", None),
        ("status", "failed"),
    ]


def test_inputs_are_validated_against_the_schema() -> None:
    with pytest.raises(nanobrain.testing.InvalidInput, match="schema of 'add'") as info:
        asyncio.run(nanobrain.testing.run(add, a="not a number", b=2))
    assert [error["loc"] for error in info.value.errors] == [["input", "a"]]


def test_a_workflow_without_context_registers_and_runs() -> None:
    registry = Registry()
    registry.add(add)
    assert registry.workflows["add"].context_param is None
    assert asyncio.run(nanobrain.testing.run(add, a=2, b=3)).output == 5


async def _plain(a: int) -> int:
    return a


def test_workflow_options_are_checked_at_registration() -> None:
    with pytest.raises(RegistrationError, match="not one of"):
        workflow(mode="warp")(_plain)
    assert workflow(name="plain", tags=["x"], cache=30)(_plain).__nanobrain__.cache == 30


def test_the_runtime_leaves_the_given_registry_as_it_is(tmp_path: Path) -> None:
    registry = Registry()
    registry.add(add)
    settings = load_settings(overrides={"data_dir": str(tmp_path)}, environ={})
    assembly = assemble(settings, registry)
    assert "assistant" in assembly.registry.workflows  # the runtime's built-in
    assert set(registry.workflows) == {"add"}
    asyncio.run(assembly.runtime.release())


class Echo(LLMProvider):
    async def _attempt(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        yield TextDelta(str(request.messages[-1]["content"]))
        yield Finished("stop", Usage(1, 1))


def test_ctx_llm_is_typed_by_the_llm_protocol() -> None:
    metered = MeteredLLM(Echo("echo"))
    assert isinstance(metered, LLM)
    llm: LLM = metered  # what `ctx.llm` is typed as
    answer = asyncio.run(llm.complete([{"role": "user", "content": "hi"}]))
    assert answer.text == "hi" and metered.usage.total_tokens == 2


def test_settings_nest_by_double_underscore_or_dicts() -> None:
    assert nest({"web_interface__server_config__port": 1, "web_interface": {"x": {"y": 2}}}) == {
        "web_interface": {"server_config": {"port": 1}, "x": {"y": 2}}
    }


def test_import_nanobrain_loads_the_core_alone() -> None:
    code = (
        "import sys, nanobrain; "
        "above = ('web', 'runtime', 'cli', 'serving', 'testing'); "
        "loaded = [m for m in sys.modules if m.split('.')[1:2] and m.split('.')[1] in above]; "
        "assert not loaded, loaded; "
        "assert callable(nanobrain.serve) and 'nanobrain.web.server' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _serve_and_call(tmp_path: Path) -> None:
    app = nanobrain.create_app(
        add, count, data_dir=str(tmp_path), web_interface__server_config__port=8001
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1") as client:
            catalog = (await client.get("/workflows")).json()
            assert {"add", "count"} <= {entry["name"] for entry in catalog}
            reply = await client.post(
                "/workflows/execute",
                json={"workflow": "add", "input": {"a": 40, "b": 2}, "wait": True},
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["output"] == 42
    finally:
        server.should_exit = True
        await serving


def test_create_app_serves_under_uvicorn_on_a_loopback_port(tmp_path: Path) -> None:
    asyncio.run(_serve_and_call(tmp_path))
