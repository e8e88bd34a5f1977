"""Creating users: by an admin, from the command line, at first start-up, or on first sign-in
through an identity provider."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from nanobrain.security.passwords import check_strength, hash_password
from nanobrain.security.policy import ROLES
from nanobrain.store.users import UsernameTaken, UserRecord, UserRepository

log = logging.getLogger(__name__)
ADMIN_USERNAME_ENV = "NANOBRAIN_ADMIN_USERNAME"
ADMIN_PASSWORD_ENV = "NANOBRAIN_ADMIN_PASSWORD"
MAX_USERNAME = 200


class AccountError(ValueError):
    pass


def check_username(username: str) -> str:
    username = username.strip()
    if not username or len(username) > MAX_USERNAME or any(ch.isspace() for ch in username):
        raise AccountError(f"a username is 1 to {MAX_USERNAME} characters without spaces")
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return role


async def create_user(users: UserRepository, username: str, password: str, role: str) -> UserRecord:
    """A password user; raises AccountError with a message for the person who asked."""
    username = check_username(username)
    check_role(role)
    try:
        check_strength(password, username)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    try:
        return await users.add(username, role, password_hash=await hash_password(password))
    except UsernameTaken:
        raise AccountError(f"the username {username!r} is taken") from None


async def bootstrap_admin(users: UserRepository, environ: Mapping[str, str] = os.environ) -> None:
    """Create the first admin from NANOBRAIN_ADMIN_USERNAME / _PASSWORD when none exists."""
    username = environ.get(ADMIN_USERNAME_ENV)
    password = environ.get(ADMIN_PASSWORD_ENV)
    if not username or not password or await users.count_admins() > 0:
        return
    try:
        await create_user(users, username, password, "admin")
    except AccountError as exc:
        log.error("%s: cannot create the first admin: %s", ADMIN_USERNAME_ENV, exc)
        return
    log.warning("created the first admin %r from %s", username, ADMIN_USERNAME_ENV)


async def external_user(
    users: UserRepository,
    provider: str,
    subject: str,
    preferred_username: str,
    default_role: str,
) -> UserRecord:
    """The user of an identity provider's account: linked by (provider, subject) after the first
    sign-in, created then with the default role. A local user with the same name is never taken
    over: the new user's name is suffixed with the provider instead."""
    existing = await users.by_oidc_identity(provider, subject)
    if existing is not None:
        return existing
    for username in (
        preferred_username,
        f"{preferred_username}@{provider}",
        f"{provider}:{subject}",
    ):
        try:
            return await users.add(
                username[:MAX_USERNAME], default_role, oidc_provider=provider, oidc_subject=subject
            )
        except UsernameTaken:
            linked = await users.by_oidc_identity(provider, subject)
            if linked is not None:  # a concurrent first sign-in won the race
                return linked
    raise AccountError(f"cannot create a user for {provider}:{subject}")
