"""What a workflow sees of a language model: `ctx.llm`, typed by the `LLM` protocol.

The values going in and out (OpenAI-shaped messages, tool specs and calls, text deltas, the
finish with its usage) live here, in the core, so that a workflow can use them, and match on
them, without depending on the providers (`nanobrain.llm`) that implement the protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]


class LLMError(Exception):
    """The model could not answer; the message says why in terms a user can act on."""


class TransientLLMError(LLMError):
    """A failure worth retrying: connection trouble, rate limits, server errors, timeouts."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call, described by its JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any]

    def openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it

    def openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    reason: str  # stop | length | tool_calls
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()


LLMEvent = TextDelta | Finished


@dataclass(slots=True)
class Completion:
    """A whole answer, as `LLMProvider.complete` collects it."""

    text: str
    finish_reason: str
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()


@runtime_checkable
class LLM(Protocol):
    """The configured model for one execution (`ctx.llm`; None when no model is configured).

    `stream` yields `TextDelta`s while the model writes, then one `Finished`; `complete`
    returns the whole answer. Transient failures are retried as long as nothing was streamed.
    """

    @property
    def model(self) -> str: ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] = (),
        tool_choice: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncIterator[LLMEvent]: ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] = (),
        tool_choice: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion: ...
