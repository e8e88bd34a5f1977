"""`assistant`, the default chat workflow.

With a language model configured it is an agent over every tool the caller may use. Without one
it still does something useful: the request analyzer picks the workflow the message is about, and
the assistant runs it when the message supplies the input (text after a colon or in quotes, an
attached file, a JSON object of fields), or says plainly what it can do and which form to use.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from pydantic import Field

from nanobrain.core import jsoncodec
from nanobrain.core.agent import Agent
from nanobrain.core.context import Context
from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.spec import Runnable, build_runnable
from nanobrain.core.types import File
from nanobrain.llm.base import MeteredLLM
from nanobrain.routing.analyzer import RequestAnalyzer
from nanobrain.runtime.agents import run_agent

if TYPE_CHECKING:
    from nanobrain.runtime.service import ExecutionService

NAME = "assistant"
INSTRUCTIONS = (
    "You are NanoBrain's assistant. Answer briefly. When a tool can compute what the user asks, "
    "call it instead of guessing, and report its result."
)
MAX_OUTPUT_CHARS = 4_000
_QUOTED = re.compile(r"[\"\u201c\u00ab]([^\"\u201d\u00bb]+)[\"\u201d\u00bb]")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def is_builtin(spec: Runnable | None) -> bool:
    """True when there is no `assistant`, or it is the one this module builds."""
    return spec is None or getattr(spec.fn, "__module__", None) == __name__


def assistant_runnable(service: ExecutionService, analyzer: RequestAnalyzer) -> Runnable:
    async def assistant(
        ctx: Context,
        message: Annotated[str, Field(min_length=1, max_length=100_000)],
        attachments: Annotated[
            list[File], Field(description="Files for the workflow the message asks for")
        ] = [],  # noqa: B006 - pydantic copies defaults
    ) -> str:
        """Talk to NanoBrain: it runs the workflow your message asks for, or explains how to."""
        if isinstance(ctx.llm, MeteredLLM):
            tools = [
                name for name, spec in service.registry.tools.items() if spec.allows(ctx.user.role)
            ]
            agent = Agent(
                name=NAME, description="assistant", instructions=INSTRUCTIONS, tools=tools
            )
            return await run_agent(ctx, agent, message, service)
        reply = await _route_and_run(ctx, message, attachments, service, analyzer)
        for piece in re.findall(r"\S+\s*|\s+", reply):
            ctx.emit(piece)
        return reply

    return build_runnable(
        assistant,
        kind="workflow",
        name=NAME,
        mode="chat",
        tags=["chat"],
        examples=["what can you do?", "count the words in: the quick brown fox"],
    )


async def _route_and_run(
    ctx: Context,
    message: str,
    attachments: list[File],
    service: ExecutionService,
    analyzer: RequestAnalyzer,
) -> str:
    candidates = [
        spec
        for spec in service.registry.workflows.values()
        if spec.mode != "chat" and spec.allows(ctx.user.role)
    ]
    decision = analyzer.analyze(message, candidates)
    if decision.workflow is None:
        return _capabilities(candidates)
    spec = service.registry.workflows[decision.workflow]
    arguments, missing = _inputs(spec, message, attachments)
    if missing:
        return _how_to(spec, missing)
    ctx.progress(None, f"running {spec.name}", spec.name)
    record = await service.run_nested(spec, arguments, ctx.user)
    if record.status is not ExecutionStatus.SUCCEEDED:
        error = record.error or {}
        return (
            f"I ran **{spec.name}**, but it {record.status.value}: "
            f"{error.get('message', 'no reason given')}"
        )
    shown = jsoncodec.dumps_text(record.output, jsoncodec.OPTIONS | orjson.OPT_INDENT_2)
    if len(shown) > MAX_OUTPUT_CHARS:
        shown = shown[:MAX_OUTPUT_CHARS] + "\n..."
    return (
        f"I ran **{spec.name}** (execution `{record.id}`):\n\n```json\n{shown}\n```\n\n"
        f"Full results: /api/v1/workflows/{record.id}/results"
    )


def _inputs(
    spec: Runnable, message: str, attachments: list[File]
) -> tuple[dict[str, Any], list[str]]:
    """The input the message supplies for `spec`, and the required fields it leaves missing."""
    schema = spec.input_schema
    properties: dict[str, Any] = schema.get("properties", {})
    required: list[str] = list(schema.get("required", []))
    arguments: dict[str, Any] = {}
    found = _JSON_OBJECT.search(message)
    if found:
        try:
            given = jsoncodec.loads(found.group(0))
        except orjson.JSONDecodeError:
            given = None
        if isinstance(given, dict):
            arguments.update({key: value for key, value in given.items() if key in properties})
    files = [file.file_id for file in attachments]
    for name in spec.file_fields:
        if files and name not in arguments:
            is_list = properties.get(name, {}).get("type") == "array"
            arguments[name] = files if is_list else files[0]
    text = _supplied_text(message)
    for name in required:
        if name in arguments:
            continue
        if text is not None and properties.get(name, {}).get("type") == "string":
            arguments[name] = text
            text = None
    return arguments, [name for name in required if name not in arguments]


def _supplied_text(message: str) -> str | None:
    """Text the message gives as content rather than as a request: quoted, or after a colon or
    the first line."""
    quoted = _QUOTED.search(message)
    if quoted:
        return quoted.group(1).strip() or None
    for separator in (":", "\n"):
        head, found, tail = message.partition(separator)
        if found and tail.strip() and len(head) < 200:
            return tail.strip()
    return None


def _describe_field(name: str, schema: dict[str, Any]) -> str:
    is_file = schema.get("format") == "file" or str(schema.get("$ref", "")).endswith("/File")
    kind = "a file (attach it)" if is_file else schema.get("type", "value")
    description = schema.get("description")
    return f"`{name}` ({kind})" + (f": {description}" if description else "")


def _how_to(spec: Runnable, missing: list[str]) -> str:
    properties = spec.input_schema.get("properties", {})
    fields = "\n".join(f"- {_describe_field(name, properties.get(name, {}))}" for name in missing)
    return (
        f"That sounds like **{spec.name}**: {spec.description.splitlines()[0]}\n\n"
        f"It needs:\n{fields}\n\n"
        f'Give the text after a colon ("{spec.name}: ..."), attach the file, or use its form '
        f'(POST /api/v1/workflows/execute with workflow "{spec.name}").'
    )


def _capabilities(candidates: list[Runnable]) -> str:
    lines = "\n".join(
        f"- **{spec.name}**: {spec.description.splitlines()[0] if spec.description else spec.title}"
        for spec in candidates
    )
    return (
        "I could not tell which workflow you mean. Without a language model configured I can run "
        f"these workflows for you:\n{lines}\n\n"
        'Describe what you want and give its input (for example "count the words in: ..."), '
        "attach a file, or use a workflow's form."
    )
