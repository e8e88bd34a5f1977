"""Workflow orchestration: the execution service, runner, executors, event buses, records."""
