"""`llm`: the language model behind agents and the default chat workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from nanobrain.config.base import Section


class LlmConfig(Section):
    """The language model behind agents and the default chat workflow (none: no LLM).

    `openai` speaks to any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp's server);
    `local` runs a GGUF file in-process with llama-cpp-python (the `local` extra).
    """

    provider: Literal["none", "openai", "local"] = "none"
    model: str = ""
    base_url: str | None = None
    api_key: SecretStr | None = None
    model_path: Path | None = None
    chat_format: str = "chatml-function-calling"
    context_length: int = Field(default=4096, ge=64)
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    timeout_seconds: float = Field(default=60, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    seed: int | None = None

    @model_validator(mode="after")
    def _provider_needs(self) -> LlmConfig:
        if self.provider == "openai" and not self.model:
            raise ValueError("provider openai needs `model`")
        if self.provider == "local" and self.model_path is None:
            raise ValueError("provider local needs `model_path` (a GGUF file)")
        return self
