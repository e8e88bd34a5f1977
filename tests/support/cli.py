"""The `nanobrain` command, run as a user runs it: a subprocess from the repository's root."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server import ROOT


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nanobrain", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
