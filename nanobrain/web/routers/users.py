"""User administration (admin only): each user has exactly one role."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from nanobrain.core.user import User
from nanobrain.security.accounts import AccountError, create_user
from nanobrain.security.passwords import WeakPassword, check_strength, hash_password
from nanobrain.security.policy import ADMIN
from nanobrain.security.services import SecurityServices
from nanobrain.store.users import LastAdmin, UserRecord
from nanobrain.web.auth_schemas import UserCreate, UserInfo, UserUpdate
from nanobrain.web.body import JSONBody
from nanobrain.web.deps import require
from nanobrain.web.problems import ProblemError
from nanobrain.web.responses import JSON
from nanobrain.web.state import app_state

router = APIRouter(prefix="/admin/users", tags=["admin"])


def _security(request: Request) -> SecurityServices:
    return app_state(request).security


async def _existing(security: SecurityServices, user_id: str) -> UserRecord:
    record = await security.users.get(user_id) if user_id.isalnum() else None
    if record is None:
        raise ProblemError(404, f"no user {user_id!r}")
    return record


LAST_ADMIN = "this is the last active admin; make another admin first"


@router.get("", response_model=list[UserInfo])
async def list_users(
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    user: User = Depends(require(ADMIN)),
) -> Response:
    records = await _security(request).users.list(limit, offset)
    return JSON([record.public() for record in records])


_CREATE_BODY = JSONBody(UserCreate)
_UPDATE_BODY = JSONBody(UserUpdate)


@router.post("", status_code=201, response_model=UserInfo, openapi_extra=_CREATE_BODY.openapi)
async def add_user(request: Request, user: User = Depends(require(ADMIN))) -> Response:
    body = await _CREATE_BODY.read(request)
    security = _security(request)
    try:
        record = await create_user(security.users, body.username, body.password, body.role)
    except AccountError as exc:
        status = 409 if "taken" in str(exc) else 422
        raise ProblemError(status, str(exc)) from None
    security.audit.record("user.create", request, actor=user, target=record.id, role=record.role)
    return JSON(record.public(), status_code=201, headers={"Location": f"{record.id}"})


@router.patch("/{user_id}", response_model=UserInfo, openapi_extra=_UPDATE_BODY.openapi)
async def change_user(
    user_id: str, request: Request, user: User = Depends(require(ADMIN))
) -> Response:
    body = await _UPDATE_BODY.read(request)
    security = _security(request)
    record = await _existing(security, user_id)
    changes: dict[str, object] = {}
    if body.role is not None and body.role != record.role:
        changes["role"] = body.role
    if body.disabled is not None and body.disabled != record.disabled:
        changes["disabled"] = body.disabled
    if body.password is not None:
        try:
            check_strength(body.password, record.username)
        except WeakPassword as exc:
            raise ProblemError(422, str(exc)) from None
        changes["password_hash"] = await hash_password(body.password)
    if changes:
        try:
            record = await security.users.update(record.id, **changes) or record
        except LastAdmin:
            raise ProblemError(409, LAST_ADMIN) from None
        if "password_hash" in changes or changes.get("disabled"):
            await security.sessions.revoke_user(record.id)
        security.authenticator.forget_user(record.id)
        security.audit.record(
            "user.update",
            request,
            actor=user,
            target=record.id,
            changed=sorted("password" if key == "password_hash" else key for key in changes),
            role=record.role,
        )
    return JSON(record.public())


@router.delete("/{user_id}", status_code=204)
async def remove_user(
    user_id: str, request: Request, user: User = Depends(require(ADMIN))
) -> Response:
    security = _security(request)
    record = await _existing(security, user_id)
    try:
        if not await security.users.delete(record.id):
            raise ProblemError(404, f"no user {user_id!r}")
    except LastAdmin:
        raise ProblemError(409, LAST_ADMIN) from None
    await security.sessions.revoke_user(record.id)
    await security.api_keys.revoke_owner(record.id)
    security.authenticator.forget_user(record.id)
    security.audit.record("user.delete", request, actor=user, target=record.id)
    return Response(status_code=204)
