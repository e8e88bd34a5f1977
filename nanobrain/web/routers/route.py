"""Request analysis without running anything."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from nanobrain.core.user import User
from nanobrain.security.policy import READ
from nanobrain.web.body import JSONBody
from nanobrain.web.deps import require
from nanobrain.web.responses import JSON
from nanobrain.web.schemas import RouteReply, RouteRequest
from nanobrain.web.state import app_state

router = APIRouter(tags=["routing"])


_ROUTE_BODY = JSONBody(RouteRequest)


@router.post("/route", response_model=RouteReply, openapi_extra=_ROUTE_BODY.openapi)
async def route(request: Request, user: User = Depends(require(READ))) -> Response:
    body = await _ROUTE_BODY.read(request)
    state = app_state(request)
    candidates = [spec for spec in state.registry.workflows.values() if spec.allows(user.role)]
    decision = state.analyzer.analyze(body.query, candidates)
    return JSON(
        {
            "workflow": decision.workflow,
            "confidence": decision.confidence,
            "intent": decision.intent,
            "domain": decision.domain,
            "alternatives": [
                {"workflow": name, "confidence": score} for name, score in decision.alternatives
            ],
        }
    )
