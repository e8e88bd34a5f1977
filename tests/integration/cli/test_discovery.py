"""Discovery through a server and the `nanobrain` command (in-process: tests/unit/core)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.cli import run_cli
from tests.support.discovery import make_plugin, write_yaml
from tests.support.server import ROOT, Server


def test_a_server_serves_yaml_and_plugin_workflows(tmp_path: Path) -> None:
    plugin_root = make_plugin(tmp_path / "site")
    config = write_yaml(tmp_path / "flows.yaml")
    server = Server(
        tmp_path / "data", targets=[str(config)], env={"PYTHONPATH": f"{plugin_root}:{ROOT}"}
    ).start()
    try:
        names = {w["name"] for w in httpx.get(f"{server.api}/workflows").json()}
        assert {"yaml-countdown", "plugin-hello", "boom"} <= names
        assert "sequence-analysis" not in names  # a target replaces the bundled examples
        reply = httpx.post(
            f"{server.api}/workflows/execute",
            json={"workflow": "plugin-hello", "input": {"name": "yaml"}, "wait": True},
        ).json()
        assert reply["output"] == "hello yaml"
    finally:
        server.kill()


def test_cli_lists_and_refuses_bad_targets(tmp_path: Path) -> None:
    listed = run_cli("workflows", "tests.support.flows")
    assert listed.returncode == 0, listed.stderr
    assert "countdown" in listed.stdout and "stream" in listed.stdout
    broken = run_cli("workflows", "tests.support.nothing_here")
    assert broken.returncode == 2
    assert "cannot import 'tests.support.nothing_here'" in broken.stderr
