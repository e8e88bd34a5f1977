"""Workflow sources for the discovery tests: an installed plugin advertised through the
`nanobrain.workflows` entry-point group, and a YAML file."""

from __future__ import annotations

import textwrap
from pathlib import Path

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
