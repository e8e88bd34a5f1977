"""Signing in (password or OpenID Connect), token refresh, logout and API keys (API.md, Auth)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from nanobrain.core.clock import utcnow
from nanobrain.core.user import User
from nanobrain.security.accounts import AccountError, external_user
from nanobrain.security.api_keys import digest, display_prefix, new_key
from nanobrain.security.audit import client_address
from nanobrain.security.oidc import OidcError, OidcProvider
from nanobrain.security.passwords import verify_password
from nanobrain.security.policy import ADMIN, READ, role_at_most, user_with_role
from nanobrain.security.services import SecurityServices
from nanobrain.security.sessions import RefreshRefused, TokenPair
from nanobrain.store.users import UserRecord
from nanobrain.web.auth_schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyInfo,
    LoginRequest,
    Me,
    RefreshRequest,
    TokenPairBody,
)
from nanobrain.web.body import JSONBody
from nanobrain.web.deps import IDENTITY, public_auth, require
from nanobrain.web.openapi import PUBLIC
from nanobrain.web.problems import ProblemError
from nanobrain.web.responses import JSON
from nanobrain.web.state import app_state

router = APIRouter(prefix="/auth", tags=["auth"])
OIDC_COOKIE = "nb_oidc"
RETURN_COOKIE = "nb_oidc_return"  # where the web UI wants the browser back, with the tokens


def _same_site_path(value: str | None) -> str | None:
    """A path on this site (never another host: `//host` and `/\\host` are refused)."""
    if value is None or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    return value if len(value) <= 512 and value.isprintable() else None


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="nanobrain"'}
_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"description": "refused"},
    429: {"description": "too many attempts"},
}


_LOGIN_BODY = JSONBody(LoginRequest)
_REFRESH_BODY = JSONBody(RefreshRequest)
_API_KEY_BODY = JSONBody(ApiKeyCreate)


def _security(request: Request) -> SecurityServices:
    return app_state(request).security


def _as_user(record: UserRecord) -> User:
    return user_with_role(record.id, record.username, record.role)


@router.post(
    "/login",
    response_model=TokenPairBody,
    dependencies=[Depends(public_auth)],
    openapi_extra={**PUBLIC, **_LOGIN_BODY.openapi},
    responses=_REFUSED,
)
async def login(request: Request) -> Response:
    body = await _LOGIN_BODY.read(request)
    security = _security(request)
    address = client_address(request) or "-"
    wait = await security.login_throttle.wait_seconds(body.username, address)
    if wait:
        security.audit.record("login", request, actor_name=body.username, outcome="throttled")
        raise ProblemError(
            429,
            f"too many failed sign-ins for this account from here; retry in {wait} s",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Limit": str(security.login_throttle.items[0].amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(wait),
            },
        )
    record = await security.users.by_username(body.username)
    valid = await verify_password(record.password_hash if record else None, body.password)
    if record is None or not valid or record.disabled:
        await security.login_throttle.failed(body.username, address)
        security.audit.record("login", request, actor_name=body.username, outcome="failure")
        raise ProblemError(401, "wrong username or password", headers=_CHALLENGE)
    await security.login_throttle.succeeded(body.username, address)
    pair = await security.sessions.start(record)
    security.audit.record("login", request, actor=_as_user(record), target=record.id)
    return JSON(pair.body())


@router.post(
    "/refresh",
    response_model=TokenPairBody,
    dependencies=[Depends(public_auth)],
    openapi_extra={**PUBLIC, **_REFRESH_BODY.openapi},
    responses=_REFUSED,
)
async def refresh(request: Request) -> Response:
    body = await _REFRESH_BODY.read(request)
    security = _security(request)
    try:
        pair, record = await security.sessions.refresh(body.refresh_token)
    except RefreshRefused as exc:
        action = "token.reuse" if exc.reused else "token.refresh"
        security.audit.record(
            action, request, target=exc.user_id, outcome="failure", reason=str(exc)
        )
        raise ProblemError(401, str(exc), headers=_CHALLENGE) from None
    security.audit.record("token.refresh", request, actor=_as_user(record), target=record.id)
    return JSON(pair.body())


@router.post(
    "/logout",
    status_code=204,
    dependencies=[Depends(public_auth)],
    openapi_extra={**PUBLIC, **_REFRESH_BODY.openapi},
)
async def logout(request: Request) -> Response:
    """Revoke the refresh token (and its family). Answers 204 whether or not it was valid."""
    body = await _REFRESH_BODY.read(request)
    security = _security(request)
    user_id = await security.sessions.logout(body.refresh_token)  # and the login's access tokens
    if user_id is not None:
        security.audit.record("token.revoke", request, target=user_id)
    return Response(status_code=204)


@router.get("/me", response_model=Me)
async def me(request: Request, user: User = Depends(require(READ))) -> Response:
    return JSON(
        {
            "id": user.id,
            "username": user.username,
            "role": user.role,
            "permissions": sorted(user.permissions),
            "api_key_id": request.scope["state"][IDENTITY].api_key_id,
        }
    )


# ---------------------------------------------------------------------------- API keys


@router.post(
    "/api-keys", status_code=201, response_model=ApiKeyCreated, openapi_extra=_API_KEY_BODY.openapi
)
async def create_api_key(request: Request, user: User = Depends(require(READ))) -> Response:
    body = await _API_KEY_BODY.read(request)
    security = _security(request)
    role = body.role or user.role
    if not role_at_most(role, user.role):
        raise ProblemError(403, f"an API key cannot have more than your role ({user.role})")
    if body.expires_at is not None and (
        body.expires_at.tzinfo is None or body.expires_at <= utcnow()
    ):
        raise ProblemError(
            422,
            "expires_at must be in the future, with a time zone",
            errors=[{"loc": ["body", "expires_at"], "msg": "not a future RFC 3339 time"}],
        )
    key = new_key()
    most = app_state(request).settings.web_interface.auth_config.max_api_keys_per_user
    record = await security.api_keys.add(
        user.id,
        body.name,
        display_prefix(key),
        digest(key),
        role,
        body.expires_at,
        max_active=most,
    )
    if record is None:
        raise ProblemError(409, f"you have {most} active API keys, the most allowed; revoke one")
    security.audit.record(
        "api_key.create", request, actor=user, target=record.id, role=role, prefix=record.prefix
    )
    return JSON({**record.public(), "key": key}, status_code=201)


@router.get("/api-keys", response_model=list[ApiKeyInfo])
async def list_api_keys(
    request: Request,
    everyone: bool = Query(default=False, description="every user's keys (needs `admin`)"),
    user: User = Depends(require(READ)),
) -> Response:
    owner = None if everyone and user.can(ADMIN) else user.id
    keys = await _security(request).api_keys.list(owner)
    return JSON([key.public() for key in keys])


@router.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(
    key_id: str, request: Request, user: User = Depends(require(READ))
) -> Response:
    security = _security(request)
    record = await security.api_keys.get(key_id) if key_id.isalnum() else None
    if record is None or (record.owner_id != user.id and not user.can(ADMIN)):
        raise ProblemError(404, f"no API key {key_id!r}")
    await security.api_keys.revoke(record.id)
    security.authenticator.forget_key(record.key_hash)
    security.audit.record("api_key.revoke", request, actor=user, target=record.id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------- OpenID Connect


def _provider(request: Request, name: str) -> OidcProvider:
    provider = _security(request).oidc.get(name)
    if provider is None:
        raise ProblemError(404, f"no identity provider named {name!r}")
    return provider


@router.get("/providers", dependencies=[Depends(public_auth)], openapi_extra=PUBLIC)
async def providers(request: Request) -> Response:
    """The configured identity providers, for sign-in buttons."""
    names = sorted(_security(request).oidc)
    return JSON([{"name": name, "title": name.replace("-", " ").title()} for name in names])


@router.get(
    "/oidc/{provider}/login",
    status_code=302,
    response_class=RedirectResponse,
    dependencies=[Depends(public_auth)],
    openapi_extra=PUBLIC,
    responses={404: {"description": "unknown provider"}},
)
async def oidc_login(
    provider: str,
    request: Request,
    return_to: str | None = Query(default=None, max_length=512, description="a path on this site"),
) -> Response:
    """Redirect to the provider's sign-in page (authorization code flow with PKCE). With
    `return_to`, the callback sends the browser there with the tokens in the URL fragment
    (never sent to a server) instead of answering them as JSON."""
    chosen = _provider(request, provider)
    redirect_uri = str(request.url_for("oidc_callback", provider=provider))
    try:
        url, pending = await chosen.begin(redirect_uri)
    except OidcError as exc:
        raise ProblemError(502, str(exc)) from None
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        OIDC_COOKIE,
        pending,
        max_age=600,
        path=request.url_for("oidc_callback", provider=provider).path,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    destination = _same_site_path(return_to)
    if destination is not None:
        response.set_cookie(
            RETURN_COOKIE,
            destination,
            max_age=600,
            path=request.url_for("oidc_callback", provider=provider).path,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
    return response


@router.get(
    "/oidc/{provider}/callback",
    response_model=TokenPairBody,
    dependencies=[Depends(public_auth)],
    openapi_extra=PUBLIC,
    responses={400: {"description": "state mismatch"}, **_REFUSED},
)
async def oidc_callback(
    provider: str,
    request: Request,
    code: str | None = Query(default=None, max_length=2048),
    state: str | None = Query(default=None, max_length=512),
    error: str | None = Query(default=None, max_length=200),
) -> Response:
    """Where the provider sends the browser back: completes the sign-in, answers a token pair."""
    chosen = _provider(request, provider)
    security = _security(request)
    if error is not None or code is None or state is None:
        reason = f"the provider answered {error!r}" if error else "code and state are required"
        security.audit.record("login", request, outcome="failure", method="oidc", reason=reason)
        raise ProblemError(400 if error is None else 401, f"sign-in failed: {reason}")
    try:
        claims = await chosen.complete(request.cookies.get(OIDC_COOKIE), state, code)
        record = await external_user(
            security.users,
            provider,
            str(claims["sub"]),
            chosen.username(claims),
            chosen.config.default_role,
        )
    except (OidcError, AccountError) as exc:
        security.audit.record("login", request, outcome="failure", method="oidc", reason=str(exc))
        status = 400 if isinstance(exc, OidcError) and exc.bad_request else 401
        raise ProblemError(status, f"sign-in failed: {exc}") from None
    if record.disabled:
        raise ProblemError(401, "sign-in failed: the account is disabled")
    pair: TokenPair = await security.sessions.start(record)
    security.audit.record("login", request, actor=_as_user(record), target=record.id, method="oidc")
    destination = _same_site_path(request.cookies.get(RETURN_COOKIE))
    response: Response
    if destination is not None:
        fragment = urlencode({key: str(value) for key, value in pair.body().items()})
        response = RedirectResponse(f"{destination}#{fragment}", status_code=303)
        response.headers["Cache-Control"] = "no-store"
    else:
        response = JSON(pair.body())
    response.delete_cookie(OIDC_COOKIE, path=request.url.path)
    response.delete_cookie(RETURN_COOKIE, path=request.url.path)
    return response
