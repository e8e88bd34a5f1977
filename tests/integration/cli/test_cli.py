"""The `nanobrain` command as a newcomer uses it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.server import ROOT

FASTA = ROOT / "nanobrain" / "examples" / "data" / "sample.fasta"


def test_run_prints_the_output_as_json(tmp_path: Path) -> None:
    result = run_cli(
        "run", "text-stats", "--input", '{"text": "one two two"}', "--data-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["words"] == 3


def test_run_uploads_local_files_and_reads_input_files(tmp_path: Path) -> None:
    (tmp_path / "input.json").write_text("{}")
    result = run_cli(
        "run", "sequence-analysis", "--input", f"@{tmp_path / 'input.json'}",
        "--file", f"fasta={FASTA}",
        "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["records"]) == 3


def test_run_reports_failures_and_bad_input(tmp_path: Path) -> None:
    failed = run_cli(
        "run", "refuse", "--target", "tests.support.flows", "--data-dir", str(tmp_path)
    )
    assert failed.returncode == 1 and "refused: no" in failed.stderr
    invalid = run_cli("run", "text-stats", "--input", '{"text": 1}', "--data-dir", str(tmp_path))
    assert invalid.returncode == 2 and "input.text" in invalid.stderr
    unknown = run_cli("run", "nope", "--data-dir", str(tmp_path))
    assert unknown.returncode == 2 and "no workflow named 'nope'" in unknown.stderr
    garbage = run_cli("run", "echo", "--input", "{", "--data-dir", str(tmp_path))
    assert garbage.returncode == 2 and "not valid JSON" in garbage.stderr


def test_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nanobrain.db").exists()


def test_invalid_configuration_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("development:\n  web_interface:\n    server_config:\n      port: lots\n")
    result = run_cli("serve", "--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "web_interface.server_config.port" in result.stderr


def test_serving_without_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    result = run_cli("serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "auth_config.enabled" in result.stderr and "loopback" in result.stderr


def test_a_worker_needs_redis(tmp_path: Path) -> None:
    result = run_cli("worker", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "set runtime.mode to distributed" in result.stderr
