"""Language models behind one interface: `LLMProvider` (see `base`), with an OpenAI-compatible
provider and a local GGUF provider (llama-cpp-python)."""

from nanobrain.llm.base import (
    Completion,
    Finished,
    LLMError,
    LLMEvent,
    LLMProvider,
    Message,
    MeteredLLM,
    RetryPolicy,
    TextDelta,
    ToolCall,
    ToolSpec,
    TransientLLMError,
    Usage,
)
from nanobrain.llm.factory import provider_from_settings

__all__ = [
    "Completion", "Finished", "LLMError", "LLMEvent", "LLMProvider", "Message", "MeteredLLM",
    "RetryPolicy", "TextDelta", "ToolCall", "ToolSpec", "TransientLLMError", "Usage",
    "provider_from_settings",
]  # fmt: skip
