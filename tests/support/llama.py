"""The tiny GGUF model and llama.cpp's own OpenAI-compatible server, for the LLM tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port
from tests.support.tiny_gguf import build_tiny_gguf


def require_llama() -> None:
    """Skip without llama-cpp-python, unless CI says it must be there (then fail)."""
    if os.environ.get("NANOBRAIN_REQUIRE_LLAMA"):
        import llama_cpp  # noqa: F401
    else:
        pytest.importorskip("llama_cpp")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_llama()
    return build_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="session")
def llama_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a loopback port; yields its `/v1` base URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_model),
            "--chat_format", "chatml-function-calling", "--n_ctx", "2048",
            "--host", "127.0.0.1", "--port", str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("llama.cpp's server did not start")
            time.sleep(0.1)
        yield base_url
    finally:
        process.kill()
        process.wait(10)
