"""What the production profile refuses to start with: each problem names the setting to fix."""

from __future__ import annotations

from nanobrain.config import Settings

MIN_SECRET_BYTES = 32
_WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "jwt_secret", "nanobrain"}


def production_problems(settings: Settings) -> list[str]:
    if settings.profile != "production":
        return []
    web = settings.web_interface
    auth = web.auth_config
    problems = []
    if not auth.enabled:
        problems.append("web_interface.auth_config.enabled: must be true in production")
    if auth.jwt_algorithm == "HS256":
        secret = auth.jwt_secret.get_secret_value() if auth.jwt_secret else ""
        if not secret:
            problems.append(
                "web_interface.auth_config.jwt_secret: is not set (the production profile reads "
                "it from ${JWT_SECRET})"
            )
        elif len(secret.encode()) < MIN_SECRET_BYTES or secret.lower() in _WEAK_SECRETS:
            problems.append(
                f"web_interface.auth_config.jwt_secret: is weak; use at least {MIN_SECRET_BYTES} "
                "random bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
    elif auth.jwt_private_key_file is not None and not auth.jwt_private_key_file.is_file():
        problems.append(
            f"web_interface.auth_config.jwt_private_key_file: {auth.jwt_private_key_file} "
            "does not exist"
        )
    cors = web.cors_config
    if cors.allow_credentials and "*" in cors.allow_origins:
        problems.append(
            "web_interface.cors_config.allow_origins: '*' together with allow_credentials lets "
            "any site act with a user's credentials; list the origins"
        )
    return problems
