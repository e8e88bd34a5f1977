"""Which workflow a request runs: the one it names, or the analyzer's pick for its `query`.
One rule for HTTP and WebSocket `execute`."""

from __future__ import annotations

from nanobrain.core.spec import Runnable
from nanobrain.core.user import User
from nanobrain.runtime.errors import InvalidInput
from nanobrain.web.schemas import ExecuteRequest
from nanobrain.web.state import AppState


def pick_workflow(body: ExecuteRequest, state: AppState, user: User) -> tuple[Runnable, bool]:
    if body.workflow:
        return state.executions.runnable("workflow", body.workflow, user), False
    if not body.query:
        raise InvalidInput(
            "name a `workflow`, or describe what you want in `query`",
            [
                {
                    "loc": ["body", "workflow"],
                    "msg": "either workflow or query is required",
                    "type": "missing",
                }
            ],
        )
    candidates = [spec for spec in state.registry.workflows.values() if spec.allows(user.role)]
    decision = state.analyzer.analyze(body.query, candidates)
    if decision.workflow is None:
        raise InvalidInput(
            "no workflow matches the query; name one in `workflow`",
            [{"loc": ["body", "query"], "msg": "no matching workflow", "type": "no_route"}],
        )
    return state.registry.workflows[decision.workflow], True
