"""A provider for any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp's server), on the
official `openai` client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

from nanobrain.llm.base import (
    ChatRequest,
    Finished,
    LLMError,
    LLMEvent,
    LLMProvider,
    RetryPolicy,
    TextDelta,
    ToolCall,
    TransientLLMError,
    Usage,
)

_TRANSIENT = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
    openai.ConflictError,
)


def tool_choice_option(choice: str | None) -> Any:
    """OpenAI's `tool_choice` for ours: `auto`, `none`, `required`, or a tool's name."""
    if choice in (None, "auto", "none", "required"):
        return choice or "auto"
    return {"type": "function", "function": {"name": choice}}


class OpenAIProvider(LLMProvider):
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ):
        super().__init__(model, retry)
        # Retries are ours (the base class), so the client makes one attempt per call.
        self.client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "none",
            timeout=self.retry.timeout_seconds,
            max_retries=0,
        )
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed

    async def aclose(self) -> None:
        await self.client.close()

    async def _attempt(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        options: dict[str, Any] = {"model": self.model, "messages": list(request.messages)}
        if request.stream:
            options["stream"] = True
            options["stream_options"] = {"include_usage": True}
        max_tokens = request.max_tokens or self.max_tokens
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        temperature = request.temperature if request.temperature is not None else self.temperature
        if temperature is not None:
            options["temperature"] = temperature
        if self.seed is not None:
            options["seed"] = self.seed
        if request.tools:
            options["tools"] = [tool.openai() for tool in request.tools]
            options["tool_choice"] = tool_choice_option(request.tool_choice)
        try:
            answer = await self.client.chat.completions.create(**options)
        except _TRANSIENT as exc:
            raise TransientLLMError(f"the model server is unavailable: {exc}") from exc
        except openai.APIStatusError as exc:
            raise LLMError(
                f"the model server refused the request ({exc.status_code}): {exc}"
            ) from exc
        if not request.stream:
            for event in _whole(answer):
                yield event
            return
        stream = answer
        calls: dict[int, dict[str, str]] = {}
        reason = "stop"
        usage = Usage()
        deltas = 0
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        deltas += 1
                        yield TextDelta(delta.content)
                    for call in delta.tool_calls or ():
                        deltas += 1
                        slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                        if call.id:
                            slot["id"] = call.id
                        if call.function is not None:
                            # Some servers repeat the name in every chunk: keep the first.
                            slot["name"] = slot["name"] or call.function.name or ""
                            slot["arguments"] += call.function.arguments or ""
                    if choice.finish_reason:
                        reason = choice.finish_reason
        except _TRANSIENT as exc:
            raise TransientLLMError(f"the model server's stream broke off: {exc}") from exc
        finally:
            await stream.close()
        if usage.completion_tokens == 0 and deltas:
            # A server that reports no usage while streaming (llama.cpp's Python server): count
            # the deltas, a lower bound on the tokens; the prompt stays unknown (0).
            usage = Usage(usage.prompt_tokens, deltas)
        tool_calls = tuple(
            ToolCall(slot["id"] or f"call_{index}", slot["name"], slot["arguments"] or "{}")
            for index, slot in sorted(calls.items())
        )
        if tool_calls and reason == "stop":
            reason = "tool_calls"
        yield Finished(reason, usage, tool_calls)


def _whole(answer: Any) -> list[LLMEvent]:
    """A non-streamed completion as events: its text, then how it finished."""
    choice = answer.choices[0]
    message = choice.message
    events: list[LLMEvent] = [TextDelta(message.content)] if message.content else []
    calls = tuple(
        ToolCall(call.id, call.function.name, call.function.arguments or "{}")
        for call in message.tool_calls or ()
        if getattr(call, "function", None) is not None
    )
    usage = Usage()
    if answer.usage is not None:
        usage = Usage(answer.usage.prompt_tokens, answer.usage.completion_tokens)
    events.append(Finished(choice.finish_reason or "stop", usage, calls))
    return events
