"""`nanobrain workflows` and `nanobrain run`: what the targets offer, and one run of a workflow
on this machine (on the same runtime as the server, without the web)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nanobrain.cli import settings as cli
from nanobrain.cli.options import (
    ConfigOption,
    DataDirOption,
    ProfileOption,
    TargetsArgument,
    console,
    fail,
)
from nanobrain.config import Settings
from nanobrain.core import jsoncodec
from nanobrain.core.registry import Registry


def list_workflows(targets: TargetsArgument = None, config: ConfigOption = None) -> None:
    """List what the targets register."""
    registry = cli.registry(targets, cli.settings(config, None))
    table = Table("kind", "name", "mode", "description")
    for spec in registry.workflows.values():
        table.add_row("workflow", spec.name, spec.mode, spec.description.split("\n")[0])
    for spec in registry.tools.values():
        table.add_row("tool", spec.name, "", spec.description.split("\n")[0])
    for agent in registry.agents.values():
        table.add_row("agent", agent.name, "", agent.description)
    Console().print(table)


def run(
    workflow: Annotated[str, typer.Argument(help="The workflow's name.")],
    input: Annotated[
        str, typer.Option("--input", "-i", help="The input as JSON, or @path to a JSON file.")
    ] = "{}",
    file: Annotated[
        list[str] | None,
        typer.Option("--file", "-f", help="field=path: upload a local file for a File field."),
    ] = None,
    targets: Annotated[
        list[str] | None, typer.Option("--target", "-t", help="Discovery target(s).")
    ] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run one workflow locally with a progress bar, and print its output as JSON."""
    settings = cli.settings(config, profile, data_dir)
    registry = cli.registry(targets, settings)
    try:
        raw = Path(input[1:]).read_text() if input.startswith("@") else input
        payload = jsoncodec.loads(raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise fail(f"--input is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise fail("--input must be a JSON object")
    uploads = {}
    for item in file or []:
        field, _, path = item.partition("=")
        if not path or not Path(path).is_file():
            raise fail(f"--file {item!r}: expected field=path to an existing file")
        uploads[field] = Path(path)
    cli.storage_usable(settings)
    status = asyncio.run(_run_once(settings, registry, workflow, payload, uploads))
    raise typer.Exit(code=0 if status == "succeeded" else 1)


async def _run_once(
    settings: Settings,
    registry: Registry,
    name: str,
    payload: dict[str, Any],
    uploads: dict[str, Path],
) -> str:
    from nanobrain.runtime.assembly import assemble
    from nanobrain.runtime.errors import RuntimeProblem
    from nanobrain.security.policy import LOCAL_ADMIN

    assembly = assemble(settings, registry)
    state = assembly.runtime
    await assembly.start()
    try:
        for field, path in uploads.items():
            record = await state.files.upload(LOCAL_ADMIN, path.name, None, _read_chunks(path))
            payload[field] = record.id
        try:
            spec = state.executions.runnable("workflow", name, LOCAL_ADMIN)
            execution = await state.executions.submit(spec, payload, LOCAL_ADMIN)
        except RuntimeProblem as exc:
            errors = "".join(
                f"\n  {'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in getattr(exc, "errors", [])
            )
            raise fail(f"{exc.detail}{errors}") from None
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[message]}"), TimeElapsedColumn(), console=console,
        ) as progress:  # fmt: skip
            task = progress.add_task(name, total=1.0, message="")
            async for event in state.executions.events(execution, 0):
                if event.type == "progress":
                    fraction = event.data.get("fraction")
                    progress.update(
                        task, completed=fraction or 0, message=event.data.get("message") or ""
                    )
                elif event.type == "chunk":
                    progress.console.print(event.data.get("delta"), end="", markup=False)
        final = await state.executions.get(execution.id, LOCAL_ADMIN)
        if final.status.value == "succeeded":
            shown = jsoncodec.dumps_text(final.output, jsoncodec.OPTIONS | orjson.OPT_INDENT_2)
            sys.stdout.write(shown + "\n")
        else:
            console.print(
                f"[bold red]{final.status.value}[/]: {(final.error or {}).get('message', '')}"
            )
        return final.status.value
    finally:
        await assembly.close()


async def _read_chunks(path: Path) -> Any:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk
