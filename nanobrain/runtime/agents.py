"""The agent loop: the model may call tools, which run through the execution path, and their
results go back to the model until it answers.

Each agent is served as a `chat`-mode runnable of kind `agent`, so a request to an agent is an
execution like any other (record, events, cancel) and a chat turn when it has a session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from nanobrain.core import jsoncodec
from nanobrain.core.agent import Agent
from nanobrain.core.context import Context
from nanobrain.core.errors import WorkflowError
from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.spec import Runnable, build_runnable
from nanobrain.llm.base import Finished, Message, MeteredLLM, TextDelta, ToolCall, ToolSpec
from nanobrain.runtime.errors import Forbidden

if TYPE_CHECKING:
    from nanobrain.runtime.service import ExecutionService

MAX_RESULT_CHARS = 8_000  # what one tool result may add to the model's context


def install(service: ExecutionService) -> None:
    """Serve every registered agent as a runnable of kind `agent`."""
    for agent in service.registry.agents.values():
        service.agents[agent.name] = agent_runnable(agent, service)


def agent_runnable(agent: Agent, service: ExecutionService) -> Runnable:
    async def run(ctx: Context, message: str) -> str:
        return await run_agent(ctx, agent, message, service)

    run.__qualname__ = f"agent:{agent.name}"
    return build_runnable(
        run,
        kind="agent",
        name=agent.name,
        description=agent.description,
        mode="chat",
        roles=agent.roles,
    )


def conversation(ctx: Context, instructions: str, message: str) -> list[Message]:
    """The model's messages: instructions, the session's history, the new message."""
    messages: list[Message] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for item in ctx.history:
        tool = item.get("tool")
        if item.get("role") == "tool" and isinstance(tool, dict):
            call = ToolCall(
                tool.get("call_id", "call"), tool.get("name", ""), tool.get("arguments", "{}")
            )
            messages.append({"role": "assistant", "content": None, "tool_calls": [call.openai()]})
            messages.append({"role": "tool", "tool_call_id": call.id, "content": item["content"]})
        elif item.get("role") in ("user", "assistant"):
            messages.append({"role": item["role"], "content": item.get("content", "")})
    messages.append({"role": "user", "content": message})
    return messages


async def run_agent(ctx: Context, agent: Agent, message: str, service: ExecutionService) -> str:
    llm = ctx.llm
    if not isinstance(llm, MeteredLLM):
        raise WorkflowError(
            f"agent {agent.name!r} needs a language model; configure one in the `llm` settings "
            "(provider openai or local)"
        )
    tools = {
        name: spec
        for name in agent.tool_names
        if (spec := service.runnables["tool"].get(name)) is not None and spec.allows(ctx.user.role)
    }
    specs = [ToolSpec(spec.name, spec.description, spec.input_schema) for spec in tools.values()]
    messages = conversation(ctx, agent.instructions, message)
    answer: list[str] = []
    for step in range(agent.max_steps):
        last = step == agent.max_steps - 1
        choice = "none" if last else (agent.tool_choice if step == 0 else None)
        finished: Finished | None = None
        text: list[str] = []
        async for event in llm.stream(messages, tools=specs if tools else (), tool_choice=choice):
            if isinstance(event, TextDelta):
                ctx.emit(event.text)
                text.append(event.text)
            else:
                finished = event
        answer.extend(text)
        if finished is None or not finished.tool_calls or last:
            return "".join(answer)
        messages.append(
            {
                "role": "assistant",
                "content": "".join(text) or None,
                "tool_calls": [call.openai() for call in finished.tool_calls],
            }
        )
        for call in finished.tool_calls:
            result = await _call_tool(ctx, call, tools, service)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return "".join(answer)


async def _call_tool(
    ctx: Context, call: ToolCall, tools: dict[str, Runnable], service: ExecutionService
) -> str:
    """Run one tool call through the execution path; report it; return what the model reads."""
    ctx.report("tool_call", {"id": call.id, "name": call.name, "arguments": call.arguments})
    outcome: dict[str, Any] = {"id": call.id, "name": call.name}
    spec = tools.get(call.name)
    try:
        arguments = jsoncodec.loads(call.arguments or "{}")
    except orjson.JSONDecodeError:
        arguments = None
    if spec is None:
        outcome["error"] = {"type": "unknown_tool", "message": f"there is no tool {call.name!r}"}
    elif not isinstance(arguments, dict):
        outcome["error"] = {
            "type": "invalid_arguments",
            "message": "arguments must be a JSON object",
        }
    else:
        try:
            # As the user stands now: a user demoted or disabled since the turn began is refused.
            record = await service.run_nested(spec, arguments, ctx.user)
        except Forbidden as exc:
            outcome["error"] = {"type": "forbidden", "message": exc.detail}
        except Exception as exc:  # invalid input is the model's mistake: tell it, carry on
            outcome["error"] = {"type": "invalid_arguments", "message": str(exc)}
        else:
            outcome["execution_id"] = record.id
            if record.status is ExecutionStatus.SUCCEEDED:
                outcome["output"] = record.output
            else:
                outcome["error"] = record.error or {"type": record.status.value, "message": ""}
    ctx.report("tool_result", outcome)
    content = jsoncodec.dumps_text(
        {"output": outcome["output"]} if "output" in outcome else {"error": outcome["error"]}
    )[:MAX_RESULT_CHARS]
    ctx.transcript.append(
        {
            "role": "tool",
            "content": content,
            "tool": {"call_id": call.id, "name": call.name, "arguments": call.arguments},
            "execution_id": outcome.get("execution_id"),
        }
    )
    return content
