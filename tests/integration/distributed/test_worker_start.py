"""A worker's start-up: it removes the plaintext scratch directories that stopped processes left
behind (an encrypted store decrypts inputs there for a run), as the server does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nanobrain.runtime.scratch import PREFIX
from tests.support.backing import backing
from tests.support.server import Worker


def test_a_worker_removes_scratch_left_by_stopped_processes(tmp_path: Path) -> None:
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    left = scratch_root / f"{PREFIX}{int(dead.stdout)}-x"
    left.mkdir()
    (left / "decrypted.fasta").write_bytes(b">secret\nACGT\n")
    unrelated = scratch_root / "unrelated"
    unrelated.mkdir()
    with backing("worker_start") as services:
        worker = Worker(tmp_path / "worker", {**services.env, "TMPDIR": str(scratch_root)})
        worker.start()
        try:
            assert not left.exists()
            assert unrelated.exists()
            assert "removed 1 plaintext scratch" in worker.log()
        finally:
            worker.stop()
