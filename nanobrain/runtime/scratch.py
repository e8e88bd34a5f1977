"""Plaintext for workflow code, which reads `File.path`: the content of an encrypted store is
decrypted into a private directory that exists only while one execution runs. It is removed when the
execution ends, however it ends; `sweep` removes what a killed process left behind."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

PREFIX = "nanobrain-plaintext-"
_OWNED = re.compile(rf"{PREFIX}(\d+)-")
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class Scratch:
    """One execution's plaintext copies, in a directory made on first use (mode 0700, in the
    system's temporary directory: `TMPDIR`), each file readable by this user only."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._paths: dict[str, Path] = {}
        self._lock = asyncio.Lock()

    async def materialize(self, name: str, chunks: AsyncIterator[bytes]) -> Path:
        """A file holding `chunks`; the same `name` again gives the same file."""
        async with self._lock:
            path = self._paths.get(name)
            if path is None:
                path = await self._write(name, chunks)
                self._paths[name] = path
            return path

    async def _write(self, name: str, chunks: AsyncIterator[bytes]) -> Path:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        path = self._directory / name
        handle = os.fdopen(os.open(path, _CREATE, 0o600), "wb")
        try:
            with handle:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def remove(self) -> None:
        """Delete every copy, synchronously, so that no cancellation can interrupt it."""
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
            self._paths.clear()


def sweep() -> int:
    """Remove this user's scratch directories whose process no longer runs; how many."""
    removed = 0
    with os.scandir(tempfile.gettempdir()) as entries:
        for entry in entries:
            match = _OWNED.match(entry.name)
            if (
                match is None
                or not entry.is_dir(follow_symlinks=False)
                or entry.stat(follow_symlinks=False).st_uid != os.getuid()
                or _running(int(match[1]))
            ):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
