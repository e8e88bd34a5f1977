"""Workflows: catalog, execute, status, results, cancel and the SSE event stream (API.md)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request
from sse_starlette import EventSourceResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from nanobrain.core.execution import ExecutionStatus
from nanobrain.core.spec import Runnable
from nanobrain.core.user import User
from nanobrain.runtime.errors import InvalidInput
from nanobrain.security.policy import EXECUTE, READ
from nanobrain.web.body import JSONBody, media_type, read_body, read_form, upload_chunks
from nanobrain.web.deps import require, while_allowed
from nanobrain.web.lean import lean
from nanobrain.web.problems import ProblemError
from nanobrain.web.responses import JSON, dumps, problem
from nanobrain.web.schemas import (
    Accepted,
    ExecuteRequest,
    ExecutionOutcome,
    ExecutionStatusBody,
    Results,
    WorkflowInfo,
    links,
    status_body,
)
from nanobrain.web.state import AppState, app_state
from nanobrain.web.streaming import MAX_EVENT_ID, event_stream, resume_point, stream_slot
from nanobrain.web.workflow_choice import pick_workflow

router = APIRouter(tags=["workflows"])
WAIT_GRACE_SECONDS = 1.0  # lets a run that hits its own timeout report that as its outcome

_EXECUTE_BODY = JSONBody(
    ExecuteRequest,
    also={
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "request": {"type": "string", "description": "ExecuteRequest as JSON"}
                },
                "additionalProperties": {"type": "string", "format": "binary"},
            }
        }
    },
)


@router.get(
    "/workflows",
    response_model=list[WorkflowInfo],
    responses={304: {"description": "unchanged since the `ETag` given in `If-None-Match`"}},
)
async def list_workflows(request: Request, user: User = Depends(require(READ))) -> Response:
    body, etag = _catalog(app_state(request), user.role)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _catalog(state: AppState, role: str) -> tuple[bytes, str]:
    """The catalog a role sees, serialized once with its ETag: the registry does not change
    while the server runs, and every replica of a deployment computes the same tag."""
    key = f"catalog:{role}"
    if key not in state.extras:
        registry = state.registry.workflows.values()
        body = dumps([spec.describe() for spec in registry if spec.allows(role)])
        state.extras[key] = (body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return cast(tuple[bytes, str], state.extras[key])


@router.get("/workflows/{name}", response_model=WorkflowInfo)
async def get_workflow(
    name: str, request: Request, user: User = Depends(require(READ))
) -> Response:
    return JSON(app_state(request).executions.runnable("workflow", name, user).describe())


@lean(
    router,
    "POST",
    "/workflows/execute",
    EXECUTE,
    openapi_extra=_EXECUTE_BODY.openapi,
    status_code=202,
    response_model=Accepted,
    responses={200: {"model": ExecutionOutcome, "description": "finished within `wait`"}},
)
async def execute(request: Request, user: User) -> Response:
    state = app_state(request)
    body, form = await _read_execute_request(request, state)
    try:
        runnable, routed = pick_workflow(body, state, user)
        if form is not None:
            body.input = await _store_uploads(form, body.input, runnable, state, user)
    finally:
        if form is not None:
            await form.close()
    prefix = state.settings.web_interface.server_config.root_path + "/api/v1"
    record = await state.executions.submit(
        runnable,
        body.input,
        user,
        session_id=body.session_id,
        request_id=request.scope.get("state", {}).get("request_id"),
        routed_from=body.query if routed else None,
        durable=not body.wait,
        run_here=body.wait,
    )
    state.security.audit.record(
        "execution.start",
        request,
        actor=user,
        target=record.id,
        at=record.created_at,
        workflow=record.workflow,
    )
    routed_to = runnable.name if routed else None
    if body.wait:
        if not record.status.final:  # run here, it usually is
            timeout = state.executions.timeout_for(runnable) + WAIT_GRACE_SECONDS
            record = await state.executions.wait(record, timeout)
        if record.status.final:
            outcome = status_body(record)
            outcome["output"] = record.output
            outcome["links"] = links(record.id, prefix)
            if routed_to:
                outcome["routed_to"] = routed_to
            return JSON(outcome)
    accepted: dict[str, Any] = {
        "execution_id": record.id,
        "workflow": record.workflow,
        "status": record.status.value,
        "links": links(record.id, prefix),
    }
    if routed_to:
        accepted["routed_to"] = routed_to
    return JSON(accepted, status_code=202, headers={"Location": accepted["links"]["status"]})


async def _read_execute_request(
    request: Request, state: AppState
) -> tuple[ExecuteRequest, FormData | None]:
    limits = state.settings.web_interface.limits
    kind = media_type(request)
    if kind in ("application/json", "") or kind.endswith("+json"):
        raw = await read_body(request)
        return _EXECUTE_BODY.parse(raw, limits), None
    if kind != "multipart/form-data":
        raise ProblemError(415, f"send application/json or multipart/form-data, not {kind!r}")
    form = await read_form(request, limits, small_parts=("request",))
    try:
        part: Any = form.get("request")
        if part is None:
            raise InvalidInput(
                "multipart requests need a `request` part holding the JSON request",
                [{"loc": ["body", "request"], "msg": "Field required", "type": "missing"}],
            )
        raw = part.encode() if isinstance(part, str) else await part.read(limits.max_body_bytes + 1)
        return _EXECUTE_BODY.parse(raw, limits, "`request` part"), form
    except Exception:
        await form.close()
        raise


async def _store_uploads(
    form: FormData, given: dict[str, Any] | None, runnable: Runnable, state: AppState, user: User
) -> dict[str, Any]:
    """Store each file part and put its file id into the input field the part is named after."""
    uploads: dict[str, list[str]] = {}
    for field, value in form.multi_items():
        if field == "request" or isinstance(value, str):
            continue
        if field not in runnable.file_fields:
            raise InvalidInput(
                f"part {field!r} does not name a file field of {runnable.name!r}",
                [
                    {
                        "loc": ["body", field],
                        "msg": f"file fields: {list(runnable.file_fields)}",
                        "type": "file",
                    }
                ],
            )
        stored = await state.files.upload(
            user, value.filename, value.content_type, upload_chunks(value)
        )
        uploads.setdefault(field, []).append(stored.id)
    data = dict(given or {})
    properties = runnable.input_schema.get("properties", {})
    for field, ids in uploads.items():
        is_list = properties.get(field, {}).get("type") == "array"
        data[field] = ids if is_list or len(ids) > 1 else ids[0]
    return data


@lean(router, "GET", "/workflows/{execution_id}/status", READ, response_model=ExecutionStatusBody)
async def get_status(request: Request, user: User, execution_id: str) -> Response:
    return JSON(status_body(await app_state(request).executions.get(execution_id, user)))


@lean(
    router,
    "GET",
    "/workflows/{execution_id}/results",
    READ,
    response_model=Results,
    responses={409: {"description": "not finished, failed or cancelled"}},
)
async def get_results(request: Request, user: User, execution_id: str) -> Response:
    record = await app_state(request).executions.get(execution_id, user)
    if record.status is not ExecutionStatus.SUCCEEDED:
        detail = {
            ExecutionStatus.QUEUED: "the execution has not started yet",
            ExecutionStatus.RUNNING: "the execution is still running",
            ExecutionStatus.FAILED: "the execution failed; it has no results",
            ExecutionStatus.CANCELLED: "the execution was cancelled; it has no results",
        }[record.status]
        return problem(409, detail, execution_status=record.status.value, error=record.error)
    return JSON(
        {
            "execution_id": record.id,
            "status": record.status.value,
            "output": record.output,
            "artifacts": record.artifacts,
        }
    )


@lean(
    router,
    "DELETE",
    "/workflows/{execution_id}/cancel",
    EXECUTE,
    status_code=202,
    response_model=ExecutionStatusBody,
)
async def cancel(request: Request, user: User, execution_id: str) -> Response:
    state = app_state(request)
    record = await state.executions.cancel(execution_id, user)
    state.security.audit.record("execution.cancel", request, actor=user, target=record.id)
    return JSON(status_body(record), status_code=202)


@lean(
    router,
    "GET",
    "/workflows/{execution_id}/events",
    READ,
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the execution's events"}
    },
)
async def events(
    request: Request,
    user: User,
    execution_id: str,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_EVENT_ID, description="replay events after this id"),
    ] = None,
) -> Response:
    state = app_state(request)
    record = await state.executions.get(execution_id, user)
    start = resume_point(request, after)
    slot = await stream_slot(request, user)
    batches = state.executions.event_batches(record, start)
    return event_stream(request, while_allowed(request, record, batches), slot=slot)
