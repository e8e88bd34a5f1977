"""What the commands share: their options, the console, and how a command fails."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (or NANOBRAIN_CONFIG).")
]
ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="development or production (or NANOBRAIN_PROFILE)."),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Database and files (or NANOBRAIN_DATA_DIR).")
]
TargetsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Import paths (pkg.module, pkg.module:attr, file.py) or YAML files."),
]


def fail(message: str) -> typer.Exit:
    """Print `message` as an error; raise what this returns to exit with status 2."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)
