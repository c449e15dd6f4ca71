"""Settings read from environment variables.

Every secret `X` may instead be given as a file path in `X_FILE`, so Kubernetes can mount a
Secret as a file instead of exposing it in the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_DRIVER_PREFIXES = ("postgresql+psycopg://", "postgresql://", "postgres://")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(ValueError):
    """The environment does not describe a valid configuration."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    metrics_port: int = 9000
    metrics_host: str = "0.0.0.0"  # noqa: S104 - the metrics port is scraped from outside the pod
    log_level: str = "INFO"
    db_pool_size: int = 5
    db_connect_timeout: int = 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        database_url = read_secret(env, "DATABASE_URL")
        if not database_url:
            raise SettingsError("DATABASE_URL (or DATABASE_URL_FILE) must be set")
        log_level = env.get("LOG_LEVEL", cls.log_level).upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        return cls(
            database_url=normalize_database_url(database_url),
            metrics_port=_int(env, "METRICS_PORT", cls.metrics_port),
            metrics_host=env.get("METRICS_HOST", cls.metrics_host),
            log_level=log_level,
            db_pool_size=_int(env, "DB_POOL_SIZE", cls.db_pool_size),
            db_connect_timeout=_int(env, "DB_CONNECT_TIMEOUT", cls.db_connect_timeout),
        )


def read_secret(env: Mapping[str, str], name: str) -> str | None:
    """`name` from the environment, or the content of the file named by `name`_FILE."""
    value = env.get(name)
    file_name = env.get(f"{name}_FILE")
    if value and file_name:
        raise SettingsError(f"set either {name} or {name}_FILE, not both")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise SettingsError(f"{name}_FILE={file_name} cannot be read: {err}") from err
    return value or None


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver whatever PostgreSQL URL scheme was given."""
    for prefix in _DRIVER_PREFIXES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise SettingsError("DATABASE_URL must be a PostgreSQL URL (postgresql://...)")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from err
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {value}")
    return value
