"""Discovery: import paths, the `nanobrain.workflows` entry-point group and YAML files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from nanobrain.core.errors import RegistrationError
from nanobrain.core.registry import Registry, discover
from tests.support.server import ROOT, Server

PLUGIN = '''
from nanobrain import Context, workflow


@workflow(tags=["plugin"])
async def plugin_hello(ctx: Context, name: str = "world") -> str:
    """Says hello from an installed plugin."""
    return f"hello {name}"
'''


def make_plugin(root: Path) -> Path:
    """An installed distribution that advertises a workflow module through the entry point."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nb_plugin.py").write_text(PLUGIN)
    dist = root / "nb_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nb-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[nanobrain.workflows]\nhello = nb_plugin\n")
    return root


def write_yaml(path: Path) -> Path:
    path.write_text(
        textwrap.dedent(
            """
            imports: [tests.support.flows]
            workflows:
              - callable: tests.support.flows:countdown
                name: yaml-countdown
                tags: [yaml]
                examples: ["count down from five"]
            tools:
              - nanobrain.examples.tools:gc_content
            agents:
              - name: yaml-agent
                description: An agent defined in YAML
                instructions: Be brief.
                tools: [gc-content]
            """
        )
    )
    return path


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nanobrain", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_import_path_forms() -> None:
    assert "countdown" in discover(["tests.support.flows"], entry_point_group=None).workflows
    single = discover(["tests.support.flows:countdown"], entry_point_group=None)
    assert list(single.workflows) == ["countdown"]
    from_file = discover([str(ROOT / "tests" / "support" / "flows.py")], entry_point_group=None)
    assert "boom" in from_file.workflows


def test_yaml_file_names_callables_and_agents(tmp_path: Path) -> None:
    registry = discover([str(write_yaml(tmp_path / "flows.yaml"))], entry_point_group=None)
    assert registry.workflows["yaml-countdown"].tags == ("yaml",)
    assert registry.workflows["yaml-countdown"].mode == "stream"
    assert "boom" in registry.workflows
    assert list(registry.tools) == ["gc-content"]
    assert registry.agents["yaml-agent"].tool_names == ("gc-content",)


def test_entry_point_plugins_are_discovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(make_plugin(tmp_path)))
    registry = discover([], entry_point_group="nanobrain.workflows")
    assert "plugin-hello" in registry.workflows


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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("workflows: [", "invalid YAML"),
        ("- just a list", "must be a mapping"),
        ("workflow: []", "unknown key"),
        ("workflows: [{callable: tests.support.flows:nothing}]", "has no attribute"),
        ("workflows: [{callable: no.such.module:x}]", "cannot import"),
        ("workflows: [{callable: tests.support.flows:boom, colour: red}]", "unknown key"),
        ("workflows: [{callable: tests.support.flows:boom, mode: turbo}]", "mode 'turbo'"),
        ("tools: [tests.support.flows:boom]", "is a workflow, not a tool"),
        ("agents: [{name: a, description: d, tools: [missing-tool]}]", "unknown tool"),
        ("", "is empty"),
    ],
)
def test_bad_yaml_is_refused_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(RegistrationError, match=message):
        discover([str(path)], entry_point_group=None)


def test_cli_lists_and_refuses_bad_targets(tmp_path: Path) -> None:
    listed = run_cli("workflows", "tests.support.flows")
    assert listed.returncode == 0, listed.stderr
    assert "countdown" in listed.stdout and "stream" in listed.stdout
    broken = run_cli("workflows", "tests.support.nothing_here")
    assert broken.returncode == 2
    assert "cannot import 'tests.support.nothing_here'" in broken.stderr


def test_registry_rejects_a_module_without_workflows() -> None:
    with pytest.raises(RegistrationError, match="defines no workflow"):
        Registry().load("tests.support.sse")
