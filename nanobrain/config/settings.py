"""`Settings`: the whole configuration, with what is derived from it and its redacted view."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nanobrain.config.llm import LlmConfig
from nanobrain.config.runtime import RealtimeConfig, RuntimeConfig
from nanobrain.config.storage import StorageConfig
from nanobrain.config.urls import async_database_url, backend
from nanobrain.config.web import WebInterfaceConfig

ENV_PREFIX = "NANOBRAIN_"
ENV_NESTED_DELIMITER = "__"

# The sources below the given values while `load_settings` builds a `Settings`. pydantic-settings
# chooses sources per class, while `load_settings` takes an environment and a file per call: the
# call puts them here for the duration of the construction (a context variable, so concurrent
# loads in threads or tasks do not see each other's).
LOADING: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar(
    "nanobrain_settings_sources", default=()
)

REDACTED = "**********"


_URL_FIELDS = ("database_url", "redis_url")


class Settings(BaseSettings):
    """The effective configuration. Build it with :func:`load_settings`.

    `load_settings` reads the environment (`NANOBRAIN_*`, nested by `__`) and the YAML profile
    as pydantic-settings sources; constructing ``Settings`` directly uses only the given values.
    """

    model_config = SettingsConfigDict(
        extra="forbid", env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED_DELIMITER
    )

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
        """Highest first: the given values, then what `load_settings` is reading (the
        environment, then the YAML profile); outside `load_settings`, the given values alone."""
        return (init_settings, *LOADING.get())

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
