"""What NanoBrain stores is for this user's eyes only, whatever the umask: its directories are
made 0700 and its files 0600 (the database, its WAL and shared memory, stored files, the key
manifest). Directories and databases made by an earlier version with looser modes are tightened
when they belong to this user (a volume's root owned by someone else is left as it is)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def private_directory(path: Path) -> Path:
    """`path` made (with its missing parents) or tightened to 0700."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    _tighten(path, DIRECTORY_MODE)
    return path


def create_private(path: Path) -> int:
    """A new file at `path`, mode 0600, open for writing (fails if it exists)."""
    return os.open(path, _CREATE, FILE_MODE)


def private_file(path: Path) -> None:
    """`path` made (empty) or tightened to 0600: for files another library creates when they
    are missing, such as an SQLite database, which then keeps the mode and gives it to its WAL
    and shared-memory files."""
    with contextlib.suppress(FileExistsError):
        os.close(create_private(path))
    _tighten(path, FILE_MODE)


def private_sqlite(path: Path) -> None:
    """An SQLite database file 0600 before SQLite opens it (it would make it 0644), and what an
    earlier run left beside it tightened too."""
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        _tighten(path.with_name(path.name + suffix), FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        status = path.stat()
        if status.st_uid == os.getuid() and status.st_mode & 0o777 & ~mode:
            path.chmod(status.st_mode & mode)
