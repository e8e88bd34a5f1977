"""The YAML side of the configuration: built-in profiles, the user's file, `${VAR}` expansion.

`defaults.yaml` holds one section per profile. The user's file is deep-merged over it, either
keyed by profile or flat (settings keys only, applied to the selected profile). Every string may
use `${VAR}` or `${VAR:-default}` (`$${` is a literal `${`); an unset variable is an error only
in the profile being loaded.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from nanobrain.config.errors import ConfigError

_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_profile(
    profile: str,
    config_file: Path | None,
    environ: Mapping[str, str],
    settings_keys: Iterable[str],
) -> dict[str, Any]:
    """The selected profile's settings, the user's file merged in and variables expanded."""
    profiles = read_yaml(resources.files("nanobrain").joinpath("defaults.yaml").read_text())
    if config_file is not None:
        merge_user_file(profiles, Path(config_file), profile, frozenset(settings_keys))
    if profile not in profiles:
        known = ", ".join(sorted(profiles))
        raise ConfigError(f"unknown profile {profile!r} (known profiles: {known})")
    errors: list[str] = []
    data = interpolate(profiles[profile] or {}, environ, profile, errors)
    if errors:
        raise ConfigError(join_errors(f"invalid configuration (profile {profile})", errors), errors)
    return data


def join_errors(header: str, errors: list[str]) -> str:
    if len(errors) == 1:
        return f"{header}: {errors[0]}"
    return f"{header}:\n" + "\n".join(f"  {line}" for line in errors)


def read_yaml(text: str, source: Path | None = None) -> dict[str, Any]:
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


def merge_user_file(
    profiles: dict[str, Any], path: Path, profile: str, settings_keys: frozenset[str]
) -> None:
    """Deep-merge the user's file into ``profiles`` (in place)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    doc = read_yaml(text, path)

    if set(doc) <= settings_keys:  # flat: applies to the selected profile
        if profile in profiles:
            profiles[profile] = deep_merge(profiles[profile], doc)
        return

    mixed = sorted(set(doc) & settings_keys)
    expected = ", ".join(sorted(settings_keys))
    if mixed:
        others = sorted(map(str, set(doc) - settings_keys))
        raise ConfigError(
            f"{path}: mixes settings keys {mixed} with other top-level keys {others}; "
            f"use either only settings keys ({expected}) or only profile names"
        )
    for name, section in doc.items():
        if section is not None and not isinstance(section, dict):
            raise ConfigError(f"{path}: {name}: a profile must be a mapping of settings")
        unknown = sorted(map(str, set(section or {}) - settings_keys))
        if unknown:
            raise ConfigError(
                f"{path}: {name}.{unknown[0]}: unknown settings key (expected one of: {expected})"
            )
        profiles[str(name)] = deep_merge(profiles.get(str(name)) or {}, section or {})


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively; lists and scalars replace. Inputs are not modified."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def interpolate(value: Any, env: Mapping[str, str], path: str, errors: list[str]) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string; unset variables go to errors."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{path}.{k}", errors) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}.{i}", errors) for i, v in enumerate(value)]
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
