"""`Agent`: instructions plus the tools an LLM may call on the user's behalf."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nanobrain.core.decorators import spec_of
from nanobrain.core.errors import RegistrationError
from nanobrain.core.spec import NAME_PATTERN


@dataclass(frozen=True)
class Agent:
    """An agent definition: an LLM with instructions and the tools it may call (by name or as
    `@tool` functions). The runtime runs its tool-calling loop."""

    name: str
    description: str
    instructions: str = ""
    tools: Sequence[str | Callable[..., Any]] = field(default_factory=tuple)
    roles: tuple[str, ...] | None = None
    tool_choice: str | None = None
    """Make the first step call a tool: `"required"` (any) or a tool's name; later steps choose."""
    max_steps: int = 8
    """How many model calls one request may take (tool rounds plus the answer)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tools", tuple(self.tools))
        if self.roles is not None:
            object.__setattr__(self, "roles", tuple(self.roles))
        if not NAME_PATTERN.match(self.name):
            raise RegistrationError(
                f"agent {self.name!r}: name must be lower-case letters, digits and - _ ."
            )
        if not self.description:
            raise RegistrationError(f"agent {self.name!r}: needs a description")
        if self.max_steps < 1:
            raise RegistrationError(f"agent {self.name!r}: max_steps must be at least 1")

    @property
    def tool_names(self) -> tuple[str, ...]:
        names = []
        for item in self.tools:
            if isinstance(item, str):
                names.append(item)
                continue
            spec = spec_of(item)
            if spec is None or spec.kind != "tool":
                raise RegistrationError(f"agent {self.name!r}: {item!r} is not a @tool function")
            names.append(spec.name)
        return tuple(names)
