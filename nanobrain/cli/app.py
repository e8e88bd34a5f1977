"""The `nanobrain` Typer app: each command lives in its own module; this puts them together."""

from __future__ import annotations

import typer

from nanobrain.cli import admin, workflows
from nanobrain.cli.serve import serve
from nanobrain.cli.worker import worker

app = typer.Typer(
    help="NanoBrain: a web presence for any typed async workflow.", no_args_is_help=True
)
app.command()(serve)
app.command()(worker)
app.command("workflows")(workflows.list_workflows)
app.command()(workflows.run)

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
db_app.command("upgrade")(admin.db_upgrade)
app.add_typer(db_app, name="db")

users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
users_app.command("create")(admin.users_create)
app.add_typer(users_app, name="users")

keys_app = typer.Typer(help="Encryption keys for data at rest.", no_args_is_help=True)
keys_app.command("generate")(admin.keys_generate)
keys_app.command("rotate")(admin.keys_rotate)
app.add_typer(keys_app, name="keys")


def main() -> None:
    app()
