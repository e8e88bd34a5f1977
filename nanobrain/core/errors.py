"""Errors raised by the core framework."""


class RegistrationError(ValueError):
    """A workflow, tool, agent or discovery source cannot be registered; the message says why."""


class WorkflowError(Exception):
    """Raise from a workflow to fail the execution with a message meant for the user."""
