"""The two pydantic-settings sources below explicit overrides: `NANOBRAIN_*` variables and the
YAML profile. `load_settings` hands them to `Settings` for one construction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, get_origin

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource


class EnvironmentSource(EnvSettingsSource):
    """pydantic-settings' environment source (prefix `NANOBRAIN_`, nesting by `__`, from the
    class's config) reading a given mapping instead of `os.environ`, with one leniency of the
    documented format: a list may be written comma-separated (`a.mod, b.mod`) as well as JSON,
    and a value that only looks like JSON (`[::1]`) is taken as text."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if self.case_sensitive:
            return dict(self._environ)
        return {name.lower(): value for name, value in self._environ.items()}

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and text.startswith(("[", "{")):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                pass
        if isinstance(text, str) and field is not None and get_origin(field.annotation) is list:
            return [item.strip() for item in text.split(",") if item.strip()]
        return value


class ProfileSource(PydanticBaseSettingsSource):
    """The selected YAML profile, already merged with the user's file and expanded
    (`config.profiles`). Not pydantic-settings' `YamlConfigSettingsSource`: that one reads
    whole files, while NanoBrain's are keyed by profile (or flat), expand `${VAR}`, and name
    the file, line and column of a YAML error."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data
