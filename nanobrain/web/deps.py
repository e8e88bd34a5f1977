"""Request dependencies: who is calling, and may they do this.

Every route declares the permission it needs with `Depends(require(...))`; this is the single
place where the caller's identity is established, so authentication plugs in here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

from nanobrain.core.user import User
from nanobrain.security.policy import LOCAL_ADMIN
from nanobrain.web.problems import ProblemError
from nanobrain.web.state import app_state

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="nanobrain"'}


async def current_user(connection: HTTPConnection) -> User:
    """The caller. With auth disabled (development) everyone is the local admin; the server then
    only listens on loopback (enforced at start-up)."""
    settings = app_state(connection).settings
    if not settings.web_interface.auth_config.enabled:
        return LOCAL_ADMIN
    raise ProblemError(401, "authentication is required", headers=UNAUTHORIZED_HEADERS)


class Permission:
    """A dependency that authenticates and checks one permission; routes keep it as metadata."""

    def __init__(self, name: str):
        self.name = name

    async def __call__(self, connection: HTTPConnection) -> User:
        user = await current_user(connection)
        if not user.can(self.name):
            raise ProblemError(403, f"this needs the {self.name!r} permission")
        return user


def require(permission: str) -> Callable[[HTTPConnection], Awaitable[User]]:
    return Permission(permission)
