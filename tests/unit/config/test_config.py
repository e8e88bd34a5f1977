from pathlib import Path

import pytest

from nanobrain.config import ConfigError, Settings, load_settings

PROD_ENV = {"JWT_SECRET": "s3cret-value"}


def write(tmp_path: Path, text: str, name: str = "nanobrain.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_development_defaults() -> None:
    s = load_settings(environ={})
    assert isinstance(s, Settings)
    assert s.profile == "development"
    web = s.web_interface
    assert (web.server_config.host, web.server_config.port) == ("127.0.0.1", 8000)
    assert web.server_config.workers == 1 and web.server_config.debug is True
    assert web.auth_config.enabled is False and web.auth_config.mock_users is True
    assert web.cors_config.allow_origins == ["http://localhost:3000", "http://127.0.0.1:5173"]
    assert web.ssl_config.enabled is False
    assert web.cache_config.enabled is False
    assert web.limits.max_body_bytes == 1_048_576
    assert s.runtime.max_concurrency == 32
    assert s.data_dir.is_absolute() and s.data_dir.name == ".nanobrain"
    assert s.files_dir == s.data_dir / "files"
    assert s.database_url is None
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{s.data_dir.as_posix()}/nanobrain.db"


def test_production_defaults() -> None:
    s = load_settings(profile="production", environ=PROD_ENV)
    web = s.web_interface
    assert (web.server_config.host, web.server_config.port, web.server_config.workers) == (
        "0.0.0.0",
        443,
        8,
    )
    assert web.auth_config.enabled is True
    assert web.auth_config.jwt_secret is not None
    assert web.auth_config.jwt_secret.get_secret_value() == "s3cret-value"
    assert web.auth_config.oidc_providers == {}
    assert web.ssl_config.enabled and web.ssl_config.cert_file == Path("/etc/ssl/certs/api.crt")
    assert web.cache_config.backend == "redis"
    assert web.cache_config.cluster_nodes == ["redis1:6379"]
    assert web.monitoring.alerting is True


def test_profile_from_env() -> None:
    s = load_settings(environ={"NANOBRAIN_PROFILE": "production", **PROD_ENV})
    assert s.profile == "production"


def test_partial_profile_keyed_file_changes_one_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, "development:\n  web_interface:\n    server_config:\n      port: 9001\n")
    s = load_settings(config_file=cfg, environ={})
    default = load_settings(environ={})
    assert s.web_interface.server_config.port == 9001
    assert s.web_interface.server_config.host == "127.0.0.1"
    assert s.model_dump(exclude={"web_interface"}) == default.model_dump(exclude={"web_interface"})
    assert s.web_interface.cors_config == default.web_interface.cors_config


def test_config_file_from_env(tmp_path: Path) -> None:
    cfg = write(tmp_path, "runtime:\n  max_concurrency: 3\n")
    s = load_settings(environ={"NANOBRAIN_CONFIG": str(cfg)})
    assert s.runtime.max_concurrency == 3


def test_lists_replace_not_append(tmp_path: Path) -> None:
    cfg = write(
        tmp_path, "web_interface:\n  cors_config:\n    allow_origins: [https://x.example]\n"
    )
    s = load_settings(config_file=cfg, environ={})
    assert s.web_interface.cors_config.allow_origins == ["https://x.example"]
    assert s.web_interface.cors_config.allow_credentials is True


def test_flat_file_applies_to_selected_profile(tmp_path: Path) -> None:
    cfg = write(tmp_path, "web_interface:\n  server_config:\n    workers: 3\nworkflows: [my.mod]\n")
    dev = load_settings(config_file=cfg, environ={})
    prod = load_settings(config_file=cfg, profile="production", environ=PROD_ENV)
    assert dev.web_interface.server_config.workers == 3
    assert prod.web_interface.server_config.workers == 3
    assert prod.web_interface.server_config.port == 443
    assert dev.workflows == prod.workflows == ["my.mod"]


def test_profile_keyed_file_only_touches_its_profile(tmp_path: Path) -> None:
    cfg = write(tmp_path, "production:\n  runtime:\n    max_concurrency: 7\n")
    assert load_settings(config_file=cfg, environ={}).runtime.max_concurrency == 32
    prod = load_settings(config_file=cfg, profile="production", environ=PROD_ENV)
    assert prod.runtime.max_concurrency == 7


def test_new_profile_starts_from_field_defaults(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        """
staging:
  web_interface:
    server_config: {host: 10.0.0.1, port: 8080, workers: 2, debug: false}
    auth_config: {enabled: true}
    cors_config: {allow_origins: [], allow_credentials: false}
    ssl_config: {enabled: false}
    cache_config: {enabled: false}
""",
    )
    s = load_settings(config_file=cfg, profile="staging", environ={})
    assert s.profile == "staging"
    assert s.web_interface.server_config.port == 8080
    assert s.web_interface.auth_config.access_token_minutes == 30
    assert s.web_interface.monitoring.log_format == "console"
    assert s.runtime.max_concurrency == 32


def test_new_profile_missing_required_sections(tmp_path: Path) -> None:
    cfg = write(tmp_path, "staging:\n  runtime: {max_concurrency: 2}\n")
    with pytest.raises(ConfigError, match=r"web_interface: Field required"):
        load_settings(config_file=cfg, profile="staging", environ={})


def test_interpolation_with_and_without_default(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        """
development:
  redis_url: "redis://${REDIS_HOST}:6379/0"
  web_interface:
    server_config:
      host: "${HOST:-0.0.0.0}"
      port: "${PORT:-8123}"
      root_path: "$${literal}"
""",
    )
    s = load_settings(config_file=cfg, environ={"REDIS_HOST": "cache", "PORT": "9999"})
    assert s.redis_url == "redis://cache:6379/0"
    assert s.web_interface.server_config.host == "0.0.0.0"
    assert s.web_interface.server_config.port == 9999
    assert s.web_interface.server_config.root_path == "${literal}"


def test_unset_variable_names_key_and_other_profile_unaffected() -> None:
    # development never references JWT_SECRET, so it loads without it
    assert load_settings(environ={}).profile == "development"
    with pytest.raises(ConfigError) as info:
        load_settings(profile="production", environ={})
    assert "production.web_interface.auth_config.jwt_secret: ${JWT_SECRET} is not set" in str(
        info.value
    )


def test_file_value_replaces_unset_default_reference(tmp_path: Path) -> None:
    cfg = write(tmp_path, "web_interface:\n  auth_config:\n    jwt_secret: from-file\n")
    s = load_settings(config_file=cfg, profile="production", environ={})
    assert s.web_interface.auth_config.jwt_secret is not None
    assert s.web_interface.auth_config.jwt_secret.get_secret_value() == "from-file"


def test_env_beats_file_and_overrides_beat_env(tmp_path: Path) -> None:
    cfg = write(tmp_path, "web_interface:\n  server_config:\n    port: 7000\n")
    env = {"NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__PORT": "9000"}
    assert load_settings(config_file=cfg, environ=env).web_interface.server_config.port == 9000
    s = load_settings(
        config_file=cfg,
        environ=env,
        overrides={"web_interface": {"server_config": {"port": 9100, "host": None}}},
    )
    assert s.web_interface.server_config.port == 9100
    assert s.web_interface.server_config.host == "127.0.0.1"  # None override ignored


def test_env_top_level_and_list_values(tmp_path: Path) -> None:
    env = {
        "NANOBRAIN_DATA_DIR": str(tmp_path / "data"),
        "NANOBRAIN_DATABASE_URL": "postgresql://u:p@db/nb",
        "NANOBRAIN_REDIS_URL": "redis://r:6379/0",
        "NANOBRAIN_WORKFLOWS": "a.mod, b.mod",
        "NANOBRAIN_WEB_INTERFACE__CORS_CONFIG__ALLOW_ORIGINS": '["https://a", "https://b"]',
        "NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__DEBUG": "false",
        "NANOBRAIN_UNRELATED": "ignored",
    }
    s = load_settings(environ=env)
    assert s.data_dir == (tmp_path / "data").resolve()
    assert s.resolved_database_url == "postgresql+asyncpg://u:p@db/nb"  # the async driver
    assert s.redis_url == "redis://r:6379/0"
    assert s.workflows == ["a.mod", "b.mod"]
    assert s.web_interface.cors_config.allow_origins == ["https://a", "https://b"]
    assert s.web_interface.server_config.debug is False
    assert load_settings(environ={"NANOBRAIN_WORKFLOWS": '["x", "y"]'}).workflows == ["x", "y"]


def test_overrides_data_dir(tmp_path: Path) -> None:
    s = load_settings(overrides={"data_dir": str(tmp_path)}, environ={})
    assert s.data_dir == tmp_path.resolve()
    assert s.resolved_database_url.endswith(f"{tmp_path.resolve().as_posix()}/nanobrain.db")


def test_invalid_value_names_key() -> None:
    env = {"NANOBRAIN_WEB_INTERFACE__SERVER_CONFIG__PORT": "abc"}
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    message = str(info.value)
    assert message.startswith("invalid configuration (profile development): ")
    assert "web_interface.server_config.port: Input should be a valid integer" in message
    assert "(got 'abc')" in message


def test_out_of_range_and_all_errors_listed(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "web_interface:\n  server_config: {port: 70000, workers: 0}\n"
        "runtime: {max_concurrency: 0}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=cfg, environ={})
    assert len(info.value.errors) == 3
    message = str(info.value)
    assert "web_interface.server_config.port:" in message
    assert "web_interface.server_config.workers:" in message
    assert "runtime.max_concurrency:" in message


def test_typo_is_an_error_naming_the_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, "web_interface:\n  server_config:\n    prot: 9000\n")
    with pytest.raises(ConfigError, match=r"web_interface\.server_config\.prot: .*'port'"):
        load_settings(config_file=cfg, environ={})


def test_typo_in_top_level_key_of_flat_file(tmp_path: Path) -> None:
    cfg = write(tmp_path, "web_interfce:\n  server_config:\n    port: 9000\n")
    with pytest.raises(ConfigError, match=r"web_interfce\.server_config: unknown settings key"):
        load_settings(config_file=cfg, environ={})
    mixed = write(tmp_path, "runtime: {}\nruntim: {}\n", "mixed.yaml")
    with pytest.raises(ConfigError, match=r"mixes settings keys"):
        load_settings(config_file=mixed, environ={})


def test_unknown_profile_lists_known(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'stagin'.*development, production"):
        load_settings(profile="stagin", environ={})
    cfg = write(tmp_path, "staging: {}\n")
    with pytest.raises(ConfigError, match=r"development, production, staging"):
        load_settings(config_file=cfg, profile="nope", environ={})


def test_missing_file_and_yaml_syntax_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=rf"config file not found: {missing}"):
        load_settings(config_file=missing, environ={})
    bad = write(tmp_path, "development:\n  runtime: [unclosed\n  x: 1\n", "bad.yaml")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=bad, environ={})
    assert str(bad) in str(info.value) and "line " in str(info.value)


def test_redacted_hides_secrets() -> None:
    env = {
        **PROD_ENV,
        "NANOBRAIN_DATABASE_URL": "postgresql+asyncpg://user:hunter2@db:5432/nb",
        "NANOBRAIN_REDIS_URL": "redis://:redispw@cache:6379/0",
    }
    data = load_settings(profile="production", environ=env).redacted()
    text = repr(data)
    assert "s3cret-value" not in text and "hunter2" not in text and "redispw" not in text
    assert data["web_interface"]["auth_config"]["jwt_secret"] == "**********"
    assert data["database_url"] == "postgresql+asyncpg://user:**********@db:5432/nb"
    assert data["redis_url"] == "redis://:**********@cache:6379/0"
    assert data["web_interface"]["ssl_config"]["cert_file"] == "/etc/ssl/certs/api.crt"


def test_redacted_default_database_url_is_effective() -> None:
    s = load_settings(environ={})
    assert s.redacted()["database_url"] == s.resolved_database_url


def test_ssl_enabled_requires_files() -> None:
    env = {"NANOBRAIN_WEB_INTERFACE__SSL_CONFIG__ENABLED": "true"}
    with pytest.raises(ConfigError, match=r"web_interface\.ssl_config: .*cert_file and key_file"):
        load_settings(environ=env)
    with pytest.raises(ConfigError, match=r"web_interface\.ssl_config: .*requires key_file "):
        load_settings(
            environ=env, overrides={"web_interface": {"ssl_config": {"cert_file": "/c.crt"}}}
        )


def test_os_environ_is_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANOBRAIN_RUNTIME__MAX_CONCURRENCY", "5")
    assert load_settings().runtime.max_concurrency == 5
