"""The one error configuration problems are reported as."""

from __future__ import annotations


class ConfigError(ValueError):
    """Invalid or unreadable configuration; ``errors`` lists each ``key.path: reason``."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]
