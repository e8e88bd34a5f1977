"""The one clock of record: timezone-aware UTC, so stored and compared times never mix naive
and aware values."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
