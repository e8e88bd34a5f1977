"""NanoBrain configuration: typed settings loaded from YAML profiles, environment and CLI.

Precedence, lowest to highest: built-in ``defaults.yaml`` <- user config file <- ``NANOBRAIN_*``
environment variables <- explicit ``overrides``. The result is validated once; every problem is
reported as a :class:`ConfigError` naming the offending key path.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nanobrain.config.urls import async_database_url, backend

__all__ = [
    "AuthConfig",
    "BearerIssuerConfig",
    "CacheConfig",
    "ConfigError",
    "CorsConfig",
    "FairShareConfig",
    "LimitsConfig",
    "LlmConfig",
    "MonitoringConfig",
    "OidcProviderConfig",
    "RateLimitConfig",
    "RealtimeConfig",
    "RuntimeConfig",
    "ServerConfig",
    "Settings",
    "SslConfig",
    "StorageConfig",
    "WebInterfaceConfig",
    "load_settings",
]

ENV_PREFIX = "NANOBRAIN_"
DEFAULT_PROFILE = "development"
REDACTED = "**********"


class ConfigError(ValueError):
    """Invalid or unreadable configuration; ``errors`` lists each ``key.path: reason``."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Model):
    host: str
    port: int = Field(ge=0, le=65535)
    workers: int = Field(ge=1)
    debug: bool
    reload: bool = False
    root_path: str = ""
    # The proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks
    # such as 10.0.0.0/8; "*" for any peer). Empty: none, the peer's address is the client's.
    forwarded_allow_ips: list[str] = []

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, values: list[str]) -> list[str]:
        import ipaddress

        for value in values:
            if value != "*":
                try:
                    ipaddress.ip_network(value, strict=False)
                except ValueError:
                    raise ValueError(f"{value!r} is not an IP address or network") from None
        return values


Role = Literal["admin", "developer", "user", "guest"]


class OidcProviderConfig(_Model):
    """An OpenID Connect provider for browser login (authorization code + PKCE + state)."""

    issuer: str  # its discovery document is at {issuer}/.well-known/openid-configuration
    client_id: str
    client_secret: SecretStr | None = None  # None: a public client (PKCE only)
    scopes: list[str] = ["openid", "email", "profile"]
    default_role: Role = "user"  # the role of a user created on first login
    username_claim: str = "email"  # falls back to preferred_username, then sub


class BearerIssuerConfig(_Model):
    """An issuer whose own JWTs are accepted as bearer tokens, verified against its JWKS."""

    issuer: str
    audience: str
    jwks_uri: str | None = None  # None: taken from the issuer's discovery document
    algorithms: list[str] = ["RS256", "ES256"]
    default_role: Role = "user"
    username_claim: str = "sub"


class RateLimitConfig(_Model):
    """Per caller (user, API key or client address) and per route group, with `limits` syntax
    ("100/minute", "10 per second"). Storage is in memory, or Redis when `redis_url` is set."""

    enabled: bool = True
    groups: dict[str, str] = {
        "read": "1200/minute",
        "execute": "600/minute",
        "write": "300/minute",
        "admin": "300/minute",
        "auth": "60/minute",
    }

    @field_validator("groups")
    @classmethod
    def _valid_limits(cls, groups: dict[str, str]) -> dict[str, str]:
        from limits import parse

        for group, spec in groups.items():
            try:
                parse(spec)
            except ValueError:
                raise ValueError(
                    f"{group}: {spec!r} is not a rate limit like '100/minute'"
                ) from None
        return groups


class LoginThrottleConfig(_Model):
    """Failed logins per (username, client address): past these, that pair waits; a success
    clears them, and another address is never held back by an attacker's failures."""

    per_minute: int = Field(default=5, ge=1)
    per_hour: int = Field(default=20, ge=1)


class AuthConfig(_Model):
    enabled: bool
    jwt_secret: SecretStr | None = None  # HS256; None in development: a per-process secret
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    jwt_private_key_file: Path | None = None  # PEM key for RS256 / ES256
    jwt_key_id: str | None = None  # None: derived from the key
    access_token_minutes: int = Field(default=30, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    mock_users: bool = False
    issuer: str = "nanobrain"
    audience: str = "nanobrain"
    credential_cache_seconds: float = Field(default=5, ge=0)
    max_api_keys_per_user: int = Field(default=25, ge=1)  # active keys; one more: 409
    oidc_providers: dict[str, OidcProviderConfig] = {}
    bearer_issuers: list[BearerIssuerConfig] = []
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    login_throttle: LoginThrottleConfig = Field(default_factory=LoginThrottleConfig)

    @model_validator(mode="after")
    def _asymmetric_needs_a_key(self) -> AuthConfig:
        if self.jwt_algorithm != "HS256" and self.jwt_private_key_file is None:
            raise ValueError(f"jwt_algorithm {self.jwt_algorithm} requires jwt_private_key_file")
        return self


class CorsConfig(_Model):
    allow_origins: list[str]
    allow_credentials: bool
    allow_methods: list[str] = ["*"]
    allow_headers: list[str] = ["*"]


class SslConfig(_Model):
    enabled: bool
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _files_required_when_enabled(self) -> SslConfig:
        missing = [name for name in ("cert_file", "key_file") if getattr(self, name) is None]
        if self.enabled and missing:
            raise ValueError(f"enabled requires {' and '.join(missing)} to be set")
        return self


class CacheConfig(_Model):
    enabled: bool
    backend: Literal["memory", "redis"] = "memory"
    cluster_nodes: list[str] = []
    ttl_seconds: int = Field(default=300, ge=0)


class MonitoringConfig(_Model):
    enabled: bool = True
    metrics_endpoint: str = "/metrics"
    health_endpoint: str = "/health"
    alerting: bool = False
    log_level: str = "info"
    log_format: Literal["console", "json"] = "console"
    access_log: bool = True  # one line per request and WebSocket session, at INFO
    # Prometheus may scrape /metrics with `Authorization: Bearer <metrics_token>`; without it,
    # only an admin may (with auth disabled, as in development, everyone is admin).
    metrics_token: SecretStr | None = None

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class LimitsConfig(_Model):
    max_body_bytes: int = Field(default=1_048_576, ge=0)
    max_upload_bytes: int = Field(default=104_857_600, ge=0)
    allowed_upload_types: list[str] = []  # empty: any type
    # At most 200: pydantic's JSON parser stops there, and whatever is accepted must still be
    # storable and sendable inside the envelopes that carry it (orjson writes 254 levels).
    max_json_depth: int = Field(default=64, ge=1, le=200)
    max_string_length: int = Field(default=524_288, ge=1)


class WebInterfaceConfig(_Model):
    server_config: ServerConfig
    auth_config: AuthConfig
    cors_config: CorsConfig
    ssl_config: SslConfig
    cache_config: CacheConfig
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)


class FairShareConfig(_Model):
    """Per principal (a user, whatever credential it uses), by role; `null`: no limit.

    `running`: executions running at once; the principal's others wait `queued`, and queued
    executions of different principals start in turn. `streams`: SSE streams and WebSockets open
    at once (429, or WebSocket close 4429, past it). Off (development): no limit on either, and
    queued executions still start in turn."""

    enabled: bool = True
    running: dict[Role, int | None] = {"admin": 16, "developer": 16, "user": 8, "guest": 1}
    streams: dict[Role, int | None] = {"admin": 64, "developer": 64, "user": 16, "guest": 8}

    @field_validator("running", "streams")
    @classmethod
    def _positive(cls, limits: dict[Role, int | None]) -> dict[Role, int | None]:
        for role, limit in limits.items():
            if limit is not None and limit < 1:
                raise ValueError(f"{role}: {limit} must be at least 1 (or null: no limit)")
        return limits

    def running_limits(self) -> dict[str, int]:
        """Role -> limit, for the roles that have one (none when off)."""
        return _set_limits(self.running) if self.enabled else {}

    def stream_limits(self) -> dict[str, int]:
        return _set_limits(self.streams) if self.enabled else {}


def _set_limits(limits: Mapping[Role, int | None]) -> dict[str, int]:
    return {role: limit for role, limit in limits.items() if limit is not None}


class RuntimeConfig(_Model):
    # embedded: one process, in-process executor and event bus (any database); distributed: API
    # replicas and `nanobrain worker`s sharing PostgreSQL (database_url) and Redis (redis_url).
    mode: Literal["embedded", "distributed"] = "embedded"
    max_concurrency: int = Field(default=32, ge=1)
    fair_share: FairShareConfig = Field(default_factory=FairShareConfig)
    default_timeout_seconds: float = Field(default=3600, gt=0)
    event_retention_seconds: float = Field(default=600, ge=0)
    max_events_per_stream: int = Field(default=10_000, ge=1)
    max_retained_streams: int = Field(default=10_000, ge=1)
    shutdown_grace_seconds: float = Field(default=5, ge=0)
    write_behind_seconds: float = Field(default=0.05, ge=0, le=10)
    # How long a request that needs its record written waits before a 503 (`Retry-After`), how
    # long unwritten changes may wait before /health reports the writer stuck, and the final
    # flush's deadline at shutdown.
    flush_timeout_seconds: float = Field(default=5, gt=0, le=60)
    # Distributed mode: how workers prove they are alive, and what happens to the executions of
    # one that stops doing so.
    heartbeat_seconds: float = Field(default=2, gt=0)
    worker_timeout_seconds: float = Field(default=10, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    # The longest a request waits on the database or Redis before it answers 503 (connecting,
    # a pool slot, a command, handing a job to the workers).
    dependency_timeout_seconds: float = Field(default=5, gt=0)
    # Distributed mode: an execution still `queued` this long after it was created, and never
    # handed to the workers (its API replica died, or lost Redis, in between), is failed.
    stranded_after_seconds: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _timeout_spans_heartbeats(self) -> RuntimeConfig:
        if self.worker_timeout_seconds <= self.heartbeat_seconds:
            raise ValueError("worker_timeout_seconds must be longer than heartbeat_seconds")
        if self.stranded_after_seconds <= 2 * self.dependency_timeout_seconds:
            raise ValueError(
                "stranded_after_seconds must be more than twice dependency_timeout_seconds"
            )
        return self


class RealtimeConfig(_Model):
    """Streaming transports: SSE keep-alives, WebSocket limits, drain on shutdown."""

    sse_ping_seconds: float = Field(default=15, gt=0)
    # A client whose socket takes no data for this long is dropped (WebSocket: close 1013).
    send_timeout_seconds: float = Field(default=30, gt=0)
    ws_idle_timeout_seconds: float = Field(default=300, gt=0)
    ws_auth_timeout_seconds: float = Field(default=10, gt=0)
    ws_max_subscriptions: int = Field(default=64, ge=1)
    # How often an open socket's principal is checked again (each delivered batch is too).
    ws_recheck_seconds: float = Field(default=2, gt=0)
    drain_seconds: float = Field(default=2, ge=0)


class LlmConfig(_Model):
    """The language model behind agents and the default chat workflow (none: no LLM).

    `openai` speaks to any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp's server);
    `local` runs a GGUF file in-process with llama-cpp-python (the `local` extra).
    """

    provider: Literal["none", "openai", "local"] = "none"
    model: str = ""
    base_url: str | None = None
    api_key: SecretStr | None = None
    model_path: Path | None = None
    chat_format: str = "chatml-function-calling"
    context_length: int = Field(default=4096, ge=64)
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.7, ge=0, le=2)
    timeout_seconds: float = Field(default=60, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    seed: int | None = None

    @model_validator(mode="after")
    def _provider_needs(self) -> LlmConfig:
        if self.provider == "openai" and not self.model:
            raise ValueError("provider openai needs `model`")
        if self.provider == "local" and self.model_path is None:
            raise ValueError("provider local needs `model_path` (a GGUF file)")
        return self


class StorageConfig(_Model):
    """Stored files and chat are encrypted at rest when keys are configured: each base64 of 32
    random bytes (`nanobrain keys generate`); the first encrypts, all decrypt."""

    encryption_keys: list[SecretStr] = []

    @field_validator("encryption_keys")
    @classmethod
    def _valid_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        from nanobrain.crypto.keyring import KeyRing

        KeyRing.from_secrets(keys)  # a ValueError names the entry, never its value
        return keys


_URL_FIELDS = ("database_url", "redis_url")


class Settings(BaseSettings):
    """The effective configuration. Build it with :func:`load_settings`.

    Environment variables are handled by :func:`load_settings`; constructing ``Settings``
    directly uses only the given values.
    """

    model_config = SettingsConfigDict(extra="forbid")

    profile: str
    data_dir: Path = Field(default=Path(".nanobrain"), validate_default=True)
    database_url: str | None = None  # None: SQLite file inside data_dir
    redis_url: str | None = None  # distributed mode's Redis; else for rate limits and the cache
    redis_prefix: str = Field(default="nanobrain", pattern=r"^[A-Za-z0-9_.:-]+$")
    file_store: Path | None = None  # None: <data_dir>/files; replicas share one directory
    workflows: list[str] = []  # discovery targets (modules, files)
    web_interface: WebInterfaceConfig
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    realtime: RealtimeConfig = Field(default_factory=RealtimeConfig)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    chat_workflow: str = "assistant"  # the default chat workflow (POST /chat without `workflow`)

    storage: StorageConfig = Field(default_factory=StorageConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # one explicit env parser: load_settings()

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _distributed_needs_shared_services(self) -> Settings:
        if self.runtime.mode != "distributed":
            return self
        missing = []
        if not self.redis_url:
            missing.append("redis_url (NANOBRAIN_REDIS_URL)")
        if not self.database_url or backend(self.database_url) != "postgresql":
            missing.append("a PostgreSQL database_url (NANOBRAIN_DATABASE_URL)")
        if missing:
            raise ValueError(f"runtime.mode distributed needs {' and '.join(missing)}")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL with its asynchronous driver (`postgresql://` means asyncpg)."""
        if self.database_url:
            return async_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'nanobrain.db').as_posix()}"

    @property
    def distributed(self) -> bool:
        """Executions run on `nanobrain worker` processes, events go through Redis."""
        return self.runtime.mode == "distributed"

    @property
    def files_dir(self) -> Path:
        return (self.file_store or self.data_dir / "files").expanduser().resolve()

    @property
    def rate_limit_storage_uri(self) -> str:
        """A `limits` storage URI: shared on Redis when configured, else this process's memory."""
        return self.redis_url or "memory://"

    def redacted(self) -> dict[str, Any]:
        """The effective config as a JSON-able dict, with secrets and URL passwords masked."""
        data = self.model_dump(mode="json")  # SecretStr dumps as "**********"
        data["database_url"] = self.resolved_database_url
        for key in _URL_FIELDS:
            if data[key]:
                data[key] = _redact_url(data[key])
        return data


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username or ''}:{REDACTED}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


# --------------------------------------------------------------------------- loading

_SECTION_KEYS = frozenset(Settings.model_fields) - {"profile"}
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_settings(
    config_file: Path | None = None,
    profile: str | None = None,
    overrides: dict[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load, merge and validate the configuration for one profile.

    ``profile``: argument, else ``NANOBRAIN_PROFILE``, else ``development``.
    ``config_file``: argument, else ``NANOBRAIN_CONFIG``; a partial YAML file, either keyed by
    profile or flat (only settings keys, applied to the selected profile).
    ``overrides``: nested dict (e.g. from CLI flags); ``None`` values are ignored.
    ``environ``: defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    profile = profile or env.get(f"{ENV_PREFIX}PROFILE") or DEFAULT_PROFILE
    if config_file is None and env.get(f"{ENV_PREFIX}CONFIG"):
        config_file = Path(env[f"{ENV_PREFIX}CONFIG"])

    profiles = _read_yaml(resources.files("nanobrain").joinpath("defaults.yaml").read_text())
    if config_file is not None:
        _merge_user_file(profiles, Path(config_file), profile)
    if profile not in profiles:
        known = ", ".join(sorted(profiles))
        raise ConfigError(f"unknown profile {profile!r} (known profiles: {known})")

    header = f"invalid configuration (profile {profile})"
    errors: list[str] = []
    data = _interpolate(profiles[profile] or {}, env, profile, errors)
    if errors:
        raise ConfigError(_join(header, errors), errors)
    data = _deep_merge(data, _env_overrides(env))
    data = _deep_merge(data, _drop_none(overrides or {}))
    data["profile"] = profile
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        errors = [_describe(err) for err in exc.errors()]
        raise ConfigError(_join(header, errors), errors) from None


def _join(header: str, errors: list[str]) -> str:
    if len(errors) == 1:
        return f"{header}: {errors[0]}"
    return f"{header}:\n" + "\n".join(f"  {line}" for line in errors)


def _read_yaml(text: str, source: Path | None = None) -> dict[str, Any]:
    name = str(source) if source else "built-in defaults"
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"{name}:{where}: invalid YAML: {problem}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{name}: top level must be a mapping, not {type(doc).__name__}")
    return doc


def _merge_user_file(profiles: dict[str, Any], path: Path, profile: str) -> None:
    """Deep-merge the user's file into ``profiles`` (in place)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    doc = _read_yaml(text, path)

    if set(doc) <= _SECTION_KEYS:  # flat: applies to the selected profile
        if profile in profiles:
            profiles[profile] = _deep_merge(profiles[profile], doc)
        return

    settings_keys = sorted(set(doc) & _SECTION_KEYS)
    if settings_keys:
        others = sorted(map(str, set(doc) - _SECTION_KEYS))
        raise ConfigError(
            f"{path}: mixes settings keys {settings_keys} with other top-level keys {others}; "
            f"use either only settings keys ({', '.join(sorted(_SECTION_KEYS))}) "
            "or only profile names"
        )
    for name, section in doc.items():
        if section is not None and not isinstance(section, dict):
            raise ConfigError(f"{path}: {name}: a profile must be a mapping of settings")
        unknown = sorted(map(str, set(section or {}) - _SECTION_KEYS))
        if unknown:
            raise ConfigError(
                f"{path}: {name}.{unknown[0]}: unknown settings key "
                f"(expected one of: {', '.join(sorted(_SECTION_KEYS))})"
            )
        profiles[str(name)] = _deep_merge(profiles.get(str(name)) or {}, section or {})


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively; lists and scalars replace. Inputs are not modified."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _drop_none(value) if isinstance(value, Mapping) else value
        for key, value in data.items()
        if value is not None
    }


def _interpolate(value: Any, env: Mapping[str, str], path: str, errors: list[str]) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string; unset variables go to errors."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env, f"{path}.{k}", errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{path}.{i}", errors) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def expand(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:  # "$${" escapes a literal "${"
            return "${"
        if env.get(name):
            return env[name]
        if default is not None:
            return default
        if name in env:  # set but empty
            return ""
        errors.append(f"{path}: ${{{name}}} is not set")
        return ""

    return _VAR.sub(expand, value)


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``NANOBRAIN_A__B__C=value`` -> ``{"a": {"b": {"c": value}}}`` for known settings keys."""
    result: dict[str, Any] = {}
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        keys = name[len(ENV_PREFIX) :].lower().split("__")
        if keys[0] not in _SECTION_KEYS:  # e.g. NANOBRAIN_PROFILE, NANOBRAIN_CONFIG
            continue
        node = result
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: conflicts with another NANOBRAIN_ variable")
        node[keys[-1]] = _parse_env_value(env[name], _field_at(keys))
    return result


def _parse_env_value(raw: str, field: FieldInfo | None) -> Any:
    text = raw.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # e.g. an IPv6 host "[::1]"
    if field is not None and get_origin(field.annotation) is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    return raw


def _field_at(keys: list[str]) -> FieldInfo | None:
    """The model field at a key path below ``Settings``, if there is one."""
    model: type[BaseModel] = Settings
    field: FieldInfo | None = None
    for key in keys:
        field = model.model_fields.get(key)
        if field is None:
            return None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return field


def _describe(err: Mapping[str, Any]) -> str:
    """One pydantic error as ``key.path: reason (got value)``."""
    loc = [str(part) for part in err["loc"]]
    path = ".".join(loc) or "<root>"
    message: str = err["msg"]
    if err["type"] == "extra_forbidden":
        parent = _field_at(loc[:-1]) if len(loc) > 1 else None
        model = parent.annotation if parent else Settings
        if isinstance(model, type) and issubclass(model, BaseModel):
            close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        return f"{path}: {message}"
    value = err.get("input")
    field = _field_at(loc)
    secret = field is not None and _is_secret(field)
    if err["type"] != "missing" and not secret and isinstance(value, str | int | float | bool):
        message += f" (got {value!r})"
    return f"{path}: {message}"


def _is_secret(field: FieldInfo) -> bool:
    annotation = field.annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)
