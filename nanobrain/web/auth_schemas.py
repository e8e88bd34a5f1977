"""Request and response models of the Auth and Admin sections of API.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "developer", "user", "guest"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenPairBody(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int


class Me(BaseModel):
    id: str
    username: str
    role: Role
    permissions: list[str]
    api_key_id: str | None = None


class ApiKeyCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Role | None = Field(default=None, description="at most the creator's role (default)")
    expires_at: datetime | None = Field(default=None, description="RFC 3339 with a time zone")


class ApiKeyInfo(BaseModel):
    id: str
    name: str
    prefix: str
    role: Role
    owner_id: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


class ApiKeyCreated(ApiKeyInfo):
    key: str = Field(description="shown only once; store it now")


class UserCreate(_Strict):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    role: Role


class UserUpdate(_Strict):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    disabled: bool | None = None


class UserInfo(BaseModel):
    id: str
    username: str
    role: Role
    disabled: bool
    oidc_provider: str | None
    created_at: datetime
    updated_at: datetime


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_id: str | None
    actor: str | None
    action: str
    target: str | None
    outcome: str
    client: str | None
    request_id: str | None
    detail: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None
