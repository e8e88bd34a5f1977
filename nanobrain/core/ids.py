"""Random identifiers from the OS's CSPRNG, a page at a time.

Every request gets an id and every execution another; one `getrandom` system call per id costs
more than the rest of making it, so ids are cut from a 4 KiB buffer of the same randomness
(refilled when used up, and discarded in a forked child so no two processes share one).
"""

from __future__ import annotations

import os

_PAGE = 4096
_ID_BYTES = 16


class _RandomPool:
    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0

    def reset(self) -> None:
        self._buffer, self._offset = b"", 0

    def hex_id(self) -> str:
        offset = self._offset
        if offset + _ID_BYTES > len(self._buffer):
            self._buffer, offset = os.urandom(_PAGE), 0
        self._offset = offset + _ID_BYTES
        return self._buffer[offset : offset + _ID_BYTES].hex()


_POOL = _RandomPool()
os.register_at_fork(after_in_child=_POOL.reset)


def random_id() -> str:
    """128 random bits as 32 hex digits."""
    return _POOL.hex_id()
