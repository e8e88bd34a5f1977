"""NanoBrain configuration: typed settings loaded from YAML profiles, environment and overrides.

One module per job: the sections' models (`auth`, `web`, `runtime`, `llm`, `storage`), the whole
(`settings`), where values come from (`profiles`, `sources`) and how they are put together and
checked (`loading`). Import from here.
"""

from nanobrain.config.auth import (
    AuthConfig,
    BearerIssuerConfig,
    LoginThrottleConfig,
    OidcProviderConfig,
    RateLimitConfig,
)
from nanobrain.config.base import Role
from nanobrain.config.errors import ConfigError
from nanobrain.config.llm import LlmConfig
from nanobrain.config.loading import DEFAULT_PROFILE, load_settings
from nanobrain.config.runtime import FairShareConfig, RealtimeConfig, RuntimeConfig
from nanobrain.config.settings import ENV_PREFIX, REDACTED, Settings
from nanobrain.config.storage import StorageConfig
from nanobrain.config.web import (
    CacheConfig,
    CorsConfig,
    LimitsConfig,
    MonitoringConfig,
    ServerConfig,
    SslConfig,
    WebInterfaceConfig,
)

__all__ = [
    "DEFAULT_PROFILE", "ENV_PREFIX", "REDACTED", "AuthConfig", "BearerIssuerConfig", "CacheConfig",
    "ConfigError", "CorsConfig", "FairShareConfig", "LimitsConfig", "LlmConfig",
    "LoginThrottleConfig", "MonitoringConfig", "OidcProviderConfig", "RateLimitConfig",
    "RealtimeConfig", "Role", "RuntimeConfig", "ServerConfig", "Settings", "SslConfig",
    "StorageConfig", "WebInterfaceConfig", "load_settings",
]  # fmt: skip
