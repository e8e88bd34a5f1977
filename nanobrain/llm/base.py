"""The one interface every language model sits behind.

Chat messages go in (OpenAI's shape: `{"role", "content", "tool_calls"?, "tool_call_id"?}`), and a
stream comes out: `TextDelta`s while the model writes, then one `Finished` with the reason, the
tool calls it asked for and the token usage. Providers implement one attempt (`_attempt`); the base
class adds what every caller needs: a timeout between events and retries with exponential backoff
on transient failures, as long as nothing has been streamed yet (a retry after that would repeat
text the caller already forwarded).
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from nanobrain.core.llm import (
    Completion,
    Finished,
    LLMError,
    LLMEvent,
    Message,
    TextDelta,
    ToolCall,
    ToolSpec,
    TransientLLMError,
    Usage,
)

__all__ = [
    "ChatRequest",
    "Completion",
    "Finished",
    "LLMError",
    "LLMEvent",
    "LLMProvider",
    "Message",
    "MeteredLLM",
    "RetryPolicy",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
    "TransientLLMError",
    "Usage",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: Sequence[Message]
    tools: Sequence[ToolSpec] = ()
    tool_choice: str | None = None  # None/"auto", "none", "required", or a tool's name
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = True  # False: the caller wants the whole answer (exact usage, one round trip)


@dataclass
class RetryPolicy:
    max_retries: int = 2
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    timeout_seconds: float = 60.0  # to the first event, and between events

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2**attempt)
        return ceiling / 2 + random.random() * ceiling / 2


class LLMProvider(ABC):
    """A chat model. `stream` and `complete` are what callers use."""

    def __init__(self, model: str, retry: RetryPolicy | None = None):
        self.model = model
        self.retry = retry or RetryPolicy()

    @abstractmethod
    def _attempt(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        """One try. Raise TransientLLMError for what a retry may fix, LLMError otherwise."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or the loaded model."""

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] = (),
        tool_choice: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncIterator[LLMEvent]:
        request = ChatRequest(list(messages), tuple(tools), tool_choice, max_tokens, temperature)
        async for event in self._with_retries(request):
            yield event

    async def _with_retries(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        attempt = 0
        while True:
            streamed = False
            events = self._attempt(request)
            try:
                while True:
                    try:
                        async with asyncio.timeout(self.retry.timeout_seconds):
                            event = await anext(events)
                    except StopAsyncIteration:
                        return
                    except TimeoutError as exc:
                        raise TransientLLMError(
                            f"the model sent nothing for {self.retry.timeout_seconds:g} s"
                        ) from exc
                    streamed = True
                    yield event
            except TransientLLMError:
                if streamed or attempt >= self.retry.max_retries:
                    raise
                await asyncio.sleep(self.retry.delay(attempt))
                attempt += 1
            finally:
                await events.aclose()  # type: ignore[attr-defined]

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] = (),
        tool_choice: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        parts: list[str] = []
        request = ChatRequest(
            list(messages), tuple(tools), tool_choice, max_tokens, temperature, stream=False
        )
        async for event in self._with_retries(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            else:
                return Completion("".join(parts), event.reason, event.usage, event.tool_calls)
        raise LLMError("the model's stream ended without a finish reason")


@dataclass
class MeteredLLM:
    """`ctx.llm` for one execution: the configured provider, with the tokens it used summed up."""

    provider: LLMProvider
    usage: Usage = field(default_factory=Usage)
    calls: int = 0

    @property
    def model(self) -> str:
        return self.provider.model

    async def stream(self, messages: Sequence[Message], **options: Any) -> AsyncIterator[LLMEvent]:
        self.calls += 1
        async for event in self.provider.stream(messages, **options):
            if isinstance(event, Finished):
                self.usage.add(event.usage)
            yield event

    async def complete(self, messages: Sequence[Message], **options: Any) -> Completion:
        self.calls += 1
        completion = await self.provider.complete(messages, **options)
        self.usage.add(completion.usage)
        return completion
