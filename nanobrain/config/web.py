"""`web_interface`: the HTTP server, CORS, TLS, cache, monitoring and request limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from nanobrain.config.auth import AuthConfig
from nanobrain.config.base import Section


class ServerConfig(Section):
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


class CorsConfig(Section):
    allow_origins: list[str]
    allow_credentials: bool
    allow_methods: list[str] = ["*"]
    allow_headers: list[str] = ["*"]


class SslConfig(Section):
    enabled: bool
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _files_required_when_enabled(self) -> SslConfig:
        missing = [name for name in ("cert_file", "key_file") if getattr(self, name) is None]
        if self.enabled and missing:
            raise ValueError(f"enabled requires {' and '.join(missing)} to be set")
        return self


class CacheConfig(Section):
    enabled: bool
    backend: Literal["memory", "redis"] = "memory"
    cluster_nodes: list[str] = []
    ttl_seconds: int = Field(default=300, ge=0)


class MonitoringConfig(Section):
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


class LimitsConfig(Section):
    max_body_bytes: int = Field(default=1_048_576, ge=0)
    max_upload_bytes: int = Field(default=104_857_600, ge=0)
    allowed_upload_types: list[str] = []  # empty: any type
    # At most 200: pydantic's JSON parser stops there, and whatever is accepted must still be
    # storable and sendable inside the envelopes that carry it (orjson writes 254 levels).
    max_json_depth: int = Field(default=64, ge=1, le=200)
    max_string_length: int = Field(default=524_288, ge=1)


class WebInterfaceConfig(Section):
    server_config: ServerConfig
    auth_config: AuthConfig
    cors_config: CorsConfig
    ssl_config: SslConfig
    cache_config: CacheConfig
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
