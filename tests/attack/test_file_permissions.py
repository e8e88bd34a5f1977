"""Class: stored data readable by other local users. Under the most permissive umask (000), a
production server's data directory, file store, SQLite database with its WAL and shared memory,
stored files, key manifest and plaintext scratch copies are this user's alone: directories
0700, files 0600, found by stat during and after a real run."""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth import ADMIN, bearer
from tests.support.production import Tls, https_client, production_env
from tests.support.server import Server

KEY = base64.b64encode(bytes(range(32))).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def loose(root: Path, skip: set[Path]) -> dict[str, str]:
    """Every directory under `root` (itself too) not 0700 and every file not 0600."""
    found = {}
    for path in [root, *root.rglob("*")]:
        if path in skip:
            continue
        wanted = 0o700 if path.is_dir() else 0o600
        if mode(path) != wanted:
            found[str(path.relative_to(root.parent))] = oct(mode(path))
    return found


@pytest.fixture
def permissive(tmp_path: Path, tls: Tls) -> Iterator[Server]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = production_env(
        tls,
        NANOBRAIN_STORAGE__ENCRYPTION_KEYS=f'["{KEY}"]',
        TMPDIR=str(scratch),
    )
    server = Server(tmp_path / "data", env=env)
    previous = os.umask(0)  # the server process inherits it: everything it makes would be 0666
    try:
        server.start()
    finally:
        os.umask(previous)
    yield server
    server.kill()


def test_everything_stored_is_private_whatever_the_umask(
    permissive: Server, tls: Tls, tmp_path: Path
) -> None:
    server = permissive
    data = server.data_dir
    client = https_client(server.api, tls)
    login = client.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
    headers = bearer(login.json()["access_token"])
    stored = client.post("/files", files={"file": ("a.txt", b"private words")}, headers=headers)
    assert stored.status_code == 201, stored.text
    held = {"upload": stored.json()["file_id"], "seconds": 3}
    started = client.post(
        "/workflows/execute", json={"workflow": "hold-upload", "input": held}, headers=headers
    )
    assert started.status_code == 202, started.text
    status_url = started.json()["links"]["status"].removeprefix("/api/v1")
    deadline = time.monotonic() + 20
    plaintext = None
    while plaintext is None and time.monotonic() < deadline:
        message = client.get(status_url, headers=headers).json()["progress"]["message"]
        plaintext = Path(message) if message else None
        time.sleep(0.05)
    assert plaintext is not None and plaintext.exists(), "the workflow reports its plaintext copy"
    assert plaintext.is_relative_to(tmp_path / "tmp")
    assert mode(plaintext) == 0o600 and mode(plaintext.parent) == 0o700
    # while the server runs: the database's WAL and shared memory exist
    database = data / "nanobrain.db"
    for name in ("nanobrain.db", "nanobrain.db-wal", "nanobrain.db-shm"):
        assert (data / name).exists(), name
    harness = {server.log_path}  # the test's own log file, not the server's doing
    assert loose(data, harness) == {}
    assert server.stop()
    assert database.exists() and (data / "files" / ".encryption.json").exists()
    assert [p for p in (data / "files").iterdir() if p.name != ".encryption.json"], "a stored file"
    assert loose(data, harness) == {}
