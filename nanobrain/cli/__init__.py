"""The `nanobrain` command: serve, worker, run, workflows, users, keys, db."""

from nanobrain.cli.app import app, main
from nanobrain.cli.serve import app_from_environment

__all__ = ["app", "app_from_environment", "main"]
