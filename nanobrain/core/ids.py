"""Identifiers: random ones, and time-ordered ones for database keys.

Every request gets an id and every execution another; a `getrandom` system call per id would
cost more than the rest of making it, so the random bytes are cut from a 4 KiB buffer of the
OS's CSPRNG (refilled when used up, and discarded in a forked child so no two processes share
one). The buffer is taken under a lock: ids are made on the event loop and in worker threads
alike, and two threads must never cut the same bytes.

Row keys are time-ordered (as UUIDv7 and ULID are): a millisecond timestamp, then 80 random bits.
New rows then land at the end of the primary-key index instead of on a random page of it (the
README's design notes give the measurement).
"""

from __future__ import annotations

import os
import threading
import time

_PAGE = 4096
_ID_BYTES = 16  # 128 bits


class _RandomPool:
    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        self._buffer, self._offset = b"", 0
        self._lock = threading.Lock()  # a fork may copy it held by a thread that is not there

    def take(self, count: int) -> bytes:
        with self._lock:
            offset = self._offset
            if offset + count > len(self._buffer):
                self._buffer, offset = os.urandom(_PAGE), 0
            self._offset = offset + count
            return self._buffer[offset : offset + count]


_POOL = _RandomPool()
os.register_at_fork(after_in_child=_POOL.reset)


def random_id() -> str:
    """128 random bits as 32 hex digits."""
    return _POOL.take(_ID_BYTES).hex()


def ordered_id() -> str:
    """32 hex digits: 48 bits of Unix time in milliseconds, then 80 random bits. Ids sort by
    creation time (to the millisecond) and cannot be guessed."""
    return (time.time_ns() // 1_000_000).to_bytes(6, "big").hex() + _POOL.take(10).hex()


def new_id() -> str:
    """A row key (executions, sessions, files): time-ordered and unguessable."""
    return ordered_id()
