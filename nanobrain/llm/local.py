"""A GGUF model run in-process by llama-cpp-python (`pip install "nanobrain[local]"`): no server,
no network. Generation runs in a worker thread, one at a time per loaded model, and streams its
tokens back to the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from nanobrain.llm.base import (
    ChatRequest,
    Finished,
    LLMError,
    LLMEvent,
    LLMProvider,
    RetryPolicy,
    TextDelta,
    ToolCall,
    Usage,
)
from nanobrain.llm.openai import tool_choice_option

_DONE = object()


class LlamaCppProvider(LLMProvider):
    def __init__(
        self,
        model_path: Path,
        *,
        chat_format: str = "chatml-function-calling",
        context_length: int = 4096,
        retry: RetryPolicy | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ):
        super().__init__(model_path.stem, retry)
        try:
            from llama_cpp import Llama, LogitsProcessorList
        except ImportError as exc:
            raise LLMError(
                'the local provider needs llama-cpp-python: pip install "nanobrain[local]"'
            ) from exc
        if not model_path.is_file():
            raise LLMError(f"no GGUF model at {model_path}")
        options: dict[str, Any] = {}
        if seed is not None:
            options["seed"] = seed
        self.llama = Llama(
            model_path=str(model_path),
            n_ctx=context_length,
            chat_format=chat_format,
            verbose=False,
            **options,
        )
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._counter = LogitsProcessorList
        self._busy = asyncio.Lock()  # a llama context generates one answer at a time

    async def _attempt(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        async with self._busy:
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[Any] = asyncio.Queue()
            stop = threading.Event()

            def produce() -> None:
                try:
                    for item in self._generate(request):
                        if stop.is_set():
                            break
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                except Exception as exc:
                    loop.call_soon_threadsafe(queue.put_nowait, exc)
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

            worker = loop.run_in_executor(None, produce)
            try:
                while (item := await queue.get()) is not _DONE:
                    if isinstance(item, Exception):
                        raise LLMError(f"the local model failed: {item}") from item
                    yield item
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.shield(worker)

    def _generate(self, request: ChatRequest) -> Iterator[LLMEvent]:
        """Runs in the worker thread."""
        options: dict[str, Any] = {"stream": request.stream}
        max_tokens = request.max_tokens or self.max_tokens
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        temperature = request.temperature if request.temperature is not None else self.temperature
        if temperature is not None:
            options["temperature"] = temperature
        if request.tools:
            options["tools"] = [tool.openai() for tool in request.tools]
            options["tool_choice"] = tool_choice_option(request.tool_choice)
        sampled = [0]  # tokens sampled: streamed chunks may hold several, or none

        def count(input_ids: Any, scores: Any) -> Any:
            sampled[0] += 1
            return scores

        options["logits_processor"] = self._counter([count])
        answer: Any = self.llama.create_chat_completion(
            messages=list(request.messages),  # type: ignore[arg-type]
            **options,
        )
        if not request.stream:
            yield from _whole(answer)
            return
        calls: dict[int, dict[str, str]] = {}
        reason = "stop"
        for chunk in answer:
            for choice in chunk["choices"]:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    yield TextDelta(delta["content"])
                for call in delta.get("tool_calls") or ():
                    slot = calls.setdefault(
                        call.get("index", 0), {"id": "", "name": "", "arguments": ""}
                    )
                    slot["id"] = call.get("id") or slot["id"]
                    function = call.get("function") or {}
                    slot["name"] = slot["name"] or function.get("name") or ""
                    slot["arguments"] += function.get("arguments") or ""
                if choice.get("finish_reason"):
                    reason = choice["finish_reason"]
        usage = Usage(self._prompt_tokens(sampled[0]), sampled[0])
        tool_calls = tuple(
            ToolCall(slot["id"] or f"call_{index}", slot["name"], slot["arguments"] or "{}")
            for index, slot in sorted(calls.items())
        )
        if tool_calls:
            reason = "tool_calls"
        yield Finished(reason, usage, tool_calls)

    def _prompt_tokens(self, generated: int) -> int:
        """The context holds the prompt and all but the last generated token."""
        return max(0, int(self.llama.n_tokens) - max(0, generated - 1))


def _whole(answer: Any) -> Iterator[LLMEvent]:
    choice = answer["choices"][0]
    message = choice["message"]
    if message.get("content"):
        yield TextDelta(message["content"])
    calls = tuple(
        ToolCall(call["id"], call["function"]["name"], call["function"]["arguments"] or "{}")
        for call in message.get("tool_calls") or ()
    )
    usage = answer["usage"]
    yield Finished(
        "tool_calls" if calls else choice.get("finish_reason") or "stop",
        Usage(usage["prompt_tokens"], usage["completion_tokens"]),
        calls,
    )
