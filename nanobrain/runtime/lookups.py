"""Finding what can run, and who may see an execution."""

from __future__ import annotations

from collections.abc import Mapping

from nanobrain.core.execution import ExecutionRecord
from nanobrain.core.spec import Runnable
from nanobrain.core.user import User
from nanobrain.runtime.files import can_see_all

Runnables = Mapping[str, Mapping[str, Runnable]]
"""What can run, by kind (`workflow`, `tool`, `agent`) and name."""


def lookup(runnables: Runnables, kind: str, name: str) -> Runnable | None:
    table = runnables.get(kind)
    return table.get(name) if table is not None else None


def visible(record: ExecutionRecord, viewer: User) -> bool:
    """Whether `viewer` may see the execution: its owner, or a role that sees everyone's."""
    return record.owner_id == viewer.id or can_see_all(viewer)


def plausible_id(value: str) -> bool:
    """Whether `value` can be an execution id at all (else no lookup is made)."""
    return len(value) == 32 and value.isalnum()
