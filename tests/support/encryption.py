"""Encryption at rest as the integration tests set it up: keys from the environment, and the
`nanobrain` command's refusals and rotation with given keys."""

from __future__ import annotations

import os
from pathlib import Path

from nanobrain.crypto.keyring import decode_key, generate_key, key_id
from tests.support.cli import run_cli

KEY_A, KEY_B = generate_key(), generate_key()


def keys_env(*keys: str, scratch: Path | None = None) -> dict[str, str]:
    env = {"NANOBRAIN_STORAGE__ENCRYPTION_KEYS": ",".join(keys)}
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(scratch)
    return env


def cli_env(*keys: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NANOBRAIN_")}
    return {**base, **keys_env(*keys)} if keys else base


def serve_refusal(data_dir: Path, *keys: str) -> str:
    result = run_cli("serve", "--data-dir", str(data_dir), "--port", "1", env=cli_env(*keys))
    assert result.returncode == 2, result.stderr
    return result.stderr


def rotate(data_dir: Path, *keys: str) -> tuple[int, str]:
    result = run_cli("keys", "rotate", "--data-dir", str(data_dir), env=cli_env(*keys))
    return result.returncode, " ".join(result.stderr.split())


def id_of(key: str) -> bytes:
    """The id of a base64 key, as stored data names it."""
    return key_id(decode_key(key))
