"""The core framework: what a signature turns into, and what it refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from nanobrain import Agent, Context, File, Table, tool, workflow
from nanobrain.core.decorators import spec_of
from nanobrain.core.errors import RegistrationError
from nanobrain.core.registry import Registry
from nanobrain.core.user import User


class Report(BaseModel):
    total: int


def test_a_signature_becomes_schemas_mode_and_routing_text() -> None:
    @workflow(tags=["bio"], examples=["GC content of this FASTA"], version="2")
    async def gc_content(
        ctx: Context, sequences: File, window: Annotated[int, Field(ge=1)] = 100
    ) -> Report:
        """Compute GC content.

        Slides a window along each sequence."""
        return Report(total=0)

    spec = spec_of(gc_content)
    assert spec is not None
    assert spec.name == "gc-content" and spec.mode == "sync" and spec.version == "2"
    assert spec.context_param == "ctx" and spec.file_fields == ("sequences",)
    schema = spec.input_schema
    assert schema["required"] == ["sequences"] and schema["additionalProperties"] is False
    assert schema["properties"]["window"] == {
        "default": 100,
        "minimum": 1,
        "title": "Window",
        "type": "integer",
    }
    assert schema["$defs"]["File"]["type"] == "string"
    assert spec.output_schema["$ref"].endswith("/Report")
    assert "GC content of this FASTA" in spec.routing_text and "bio" in spec.routing_text
    assert spec.description.startswith("Compute GC content.")


@pytest.mark.parametrize(
    ("options", "returns", "generator", "mode"),
    [
        ({}, "str", False, "sync"),
        ({"mode": "job"}, "str", False, "job"),
        ({}, "AsyncIterator[str]", True, "stream"),
    ],
)
def test_modes(options: dict[str, Any], returns: str, generator: bool, mode: str) -> None:
    namespace: dict[str, Any] = {"Context": Context, "AsyncIterator": AsyncIterator}
    body = "    yield 'x'" if generator else "    return 'x'"
    exec(f"async def flow(ctx: Context, n: int = 1) -> {returns}:\n{body}", namespace)
    assert spec_of(workflow(**options)(namespace["flow"])).mode == mode  # type: ignore[union-attr]


def test_chat_mode_needs_a_message() -> None:
    @workflow(mode="chat")
    async def talk(ctx: Context, message: str) -> str:
        return message

    assert spec_of(talk).mode == "chat"  # type: ignore[union-attr]
    with pytest.raises(RegistrationError, match="message: str"):

        @workflow(mode="chat")
        async def mute(ctx: Context, text: str) -> str:
            return text


def sync_function(ctx: Context) -> int:
    return 1


async def no_annotation(ctx: Context, x) -> int:  # type: ignore[no-untyped-def]
    return 1


async def no_return(ctx: Context, x: int):  # type: ignore[no-untyped-def]
    return 1


async def var_args(ctx: Context, *xs: int) -> int:
    return 1


async def no_context(x: int) -> int:
    return x


async def generator_without_iterator(ctx: Context) -> list[str]:  # type: ignore[misc]
    yield "x"


class Opaque:
    pass


async def opaque(ctx: Context, thing: Opaque) -> int:
    return 1


@pytest.mark.parametrize(
    ("fn", "options", "message"),
    [
        (sync_function, {}, "must be `async def`"),
        (no_annotation, {}, "needs a type annotation"),
        (no_return, {}, "needs a return annotation"),
        (var_args, {}, r"\*args"),
        (generator_without_iterator, {}, "AsyncIterator"),
        (opaque, {}, "cannot be described as JSON Schema"),
        (no_return, {"name": "Bad Name"}, "lower-case"),
        (sync_function, {"mode": "stream"}, "async def"),
        (no_context, {"mode": "warp"}, "not one of"),
    ],
)
def test_unsupported_signatures_fail_at_registration(
    fn: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(RegistrationError, match=message):
        workflow(**options)(fn)


def test_tools_need_no_context_and_never_stream() -> None:
    @tool
    async def double(x: int) -> int:
        return 2 * x

    assert spec_of(double).mode == "sync" and spec_of(double).context_param is None  # type: ignore[union-attr]
    with pytest.raises(RegistrationError, match="tools always run in `sync` mode"):
        tool(mode="job")(double)  # type: ignore[call-overload]


def test_duplicate_names_are_refused_but_reregistration_is_idempotent() -> None:
    @workflow(name="same")
    async def first(ctx: Context) -> int:
        return 1

    @workflow(name="same")
    async def second(ctx: Context) -> int:
        return 2

    registry = Registry()
    registry.add(first)
    registry.add(first)
    with pytest.raises(RegistrationError, match="duplicate workflow name 'same'"):
        registry.add(second)


def test_agents_validate_their_tools() -> None:
    @tool
    async def known(x: int) -> int:
        return x

    registry = Registry()
    registry.add([known, Agent(name="helper", description="helps", tools=[known, "known"])])
    registry.validate()
    registry.add(Agent(name="broken", description="d", tools=["unknown"]))
    with pytest.raises(RegistrationError, match="unknown tool"):
        registry.validate()
    with pytest.raises(RegistrationError, match="needs a description"):
        Agent(name="silent", description="")


class RecordingSink:
    def __init__(self) -> None:
        self.progress_calls: list[tuple[float | None, str | None, str | None]] = []

    def progress(self, fraction: float | None, message: str | None, step: str | None) -> None:
        self.progress_calls.append((fraction, message, step))

    def emit(self, event_type: str, data: Any) -> None:
        pass


def test_steps_map_their_own_progress_onto_the_whole() -> None:
    sink = RecordingSink()
    ctx = Context(
        execution_id="e",
        workflow="w",
        user=User("u", "u", "user"),
        sink=sink,
        files=None,  # type: ignore[arg-type]
    )

    async def run() -> None:
        steps = ctx.steps(load=1, compute=3)
        async with steps["load"] as step:
            step.progress(0.5)
        async with steps["compute"] as step:
            step.progress(0.5, "halfway")

    asyncio.run(run())
    fractions = [call[0] for call in sink.progress_calls]
    assert fractions == [0.0, 0.125, 0.25, 0.25, 0.625, 1.0]
    assert sink.progress_calls[4] == (0.625, "halfway", "compute")
    with pytest.raises(ValueError, match="positive"):
        ctx.steps(bad=0)
    ctx.progress(7)
    assert sink.progress_calls[-1][0] == 1.0


def test_table_from_records_and_dataframe() -> None:
    import pandas as pd

    table = Table.from_records([{"a": 1}, {"a": 2, "b": "x"}])
    assert table.columns == ["a", "b"] and table.rows == [[1, None], [2, "x"]]
    frame = Table.from_dataframe(pd.DataFrame({"v": [1.0, float("nan")]}), index=False)
    assert frame.rows == [[1.0], [None]]
