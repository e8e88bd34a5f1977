"""Discovery in-process: import paths, the `nanobrain.workflows` entry-point group and YAML files.
A server and the CLI serving them: tests/integration/cli/test_discovery.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanobrain.core.errors import RegistrationError
from nanobrain.core.registry import Registry, discover
from tests.support.discovery import make_plugin, write_yaml
from tests.support.server import ROOT


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


def test_registry_rejects_a_module_without_workflows() -> None:
    with pytest.raises(RegistrationError, match="defines no workflow"):
        Registry().load("tests.support.sse")
