"""The role -> permission table (API.md, "Roles and permissions"); the one place it is defined."""

from __future__ import annotations

from nanobrain.core.user import User

READ, WRITE, EXECUTE, ADMIN = "read", "write", "execute", "admin"
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({READ, WRITE, EXECUTE, ADMIN}),
    "developer": frozenset({READ, WRITE, EXECUTE}),
    "user": frozenset({READ, EXECUTE}),
    "guest": frozenset({READ}),
}
ROLES = tuple(ROLE_PERMISSIONS)
_RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}  # guest 0 ... admin 3

LOCAL_ADMIN = User(
    id="local-admin", username="local-admin", role="admin", permissions=ROLE_PERMISSIONS["admin"]
)


def user_with_role(user_id: str, username: str, role: str) -> User:
    if role not in ROLE_PERMISSIONS:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return User(id=user_id, username=username, role=role, permissions=ROLE_PERMISSIONS[role])


def role_at_most(role: str, ceiling: str) -> bool:
    """True if `role` grants nothing that `ceiling` does not (an API key's role vs its owner's)."""
    return _RANK[role] <= _RANK[ceiling]


def lower_role(first: str, second: str) -> str:
    return first if _RANK[first] <= _RANK[second] else second
