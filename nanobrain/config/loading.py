"""`load_settings`: one profile's configuration from its sources, validated once.

Precedence, lowest to highest: built-in ``defaults.yaml`` <- user config file <- ``NANOBRAIN_*``
environment variables <- explicit ``overrides``. pydantic-settings merges the sources
(`config.sources`); every problem is reported as a :class:`ConfigError` naming the key path.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from nanobrain.config.errors import ConfigError
from nanobrain.config.profiles import deep_merge, join_errors, read_profile
from nanobrain.config.settings import ENV_NESTED_DELIMITER, ENV_PREFIX, LOADING, Settings
from nanobrain.config.sources import EnvironmentSource, ProfileSource

DEFAULT_PROFILE = "development"
SETTINGS_KEYS = frozenset(Settings.model_fields) - {"profile"}


def load_settings(
    config_file: Path | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
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
    data = read_profile(profile, config_file, env, SETTINGS_KEYS)
    sources = (EnvironmentSource(Settings, env), ProfileSource(Settings, data))
    token = LOADING.set(sources)
    try:
        return Settings(**drop_none(overrides or {}), profile=profile)
    except ValidationError as exc:
        errors = [_describe(err) for err in exc.errors()]
        header = f"invalid configuration (profile {profile})"
        raise ConfigError(join_errors(header, errors), errors) from None
    finally:
        LOADING.reset(token)


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """`{"a__b": 1, "a": {"c": 2}}` -> `{"a": {"b": 1, "c": 2}}`."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, last = key.split(ENV_NESTED_DELIMITER)
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: conflicts with another setting given for {parent}")
        if isinstance(value, Mapping) and isinstance(node.get(last), dict):
            node[last] = deep_merge(node[last], nest(value))
        else:
            node[last] = nest(value) if isinstance(value, Mapping) else value
    return nested


def drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides without their unset (None) entries, at every depth."""
    return {
        key: drop_none(value) if isinstance(value, Mapping) else value
        for key, value in data.items()
        if value is not None
    }


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
