"""What every settings section shares: unknown keys are errors (a typo names the key)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


Role = Literal["admin", "developer", "user", "guest"]
