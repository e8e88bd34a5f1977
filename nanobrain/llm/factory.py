"""Build the configured provider (`llm` section of the settings)."""

from __future__ import annotations

from nanobrain.config import LlmConfig
from nanobrain.llm.base import LLMProvider, RetryPolicy


def provider_from_settings(config: LlmConfig) -> LLMProvider | None:
    """The provider `config` names, or None when no LLM is configured."""
    retry = RetryPolicy(max_retries=config.max_retries, timeout_seconds=config.timeout_seconds)
    if config.provider == "openai":
        from nanobrain.llm.openai import OpenAIProvider

        return OpenAIProvider(
            config.model,
            base_url=config.base_url,
            api_key=config.api_key.get_secret_value() if config.api_key else None,
            retry=retry,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            seed=config.seed,
        )
    if config.provider == "local":
        from nanobrain.llm.local import LlamaCppProvider

        assert config.model_path is not None  # checked when the settings were loaded
        return LlamaCppProvider(
            config.model_path,
            chat_format=config.chat_format,
            context_length=config.context_length,
            retry=retry,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            seed=config.seed,
        )
    return None
