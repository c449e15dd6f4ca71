"""Reading settings from environment variables: secrets from files, URLs, numbers.

Every secret `X` may instead be given as a file path in `X_FILE`, so Kubernetes can mount a
Secret as a file instead of exposing it in the process environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_DRIVER_PREFIXES = ("postgresql+psycopg://", "postgresql://", "postgres://")
_AMQP_SCHEMES = ("amqp", "amqps")
_REDIS_SCHEMES = ("redis", "rediss")


class SettingsError(ValueError):
    """The environment does not describe a valid configuration."""


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


def check_amqp_url(url: str) -> str:
    """An AMQP 0-9-1 URL with a host (amqp://user:password@host:5672/vhost)."""
    parts = urlsplit(url)
    if parts.scheme not in _AMQP_SCHEMES or not parts.hostname:
        raise SettingsError("AMQP_URL must be a RabbitMQ URL (amqp://user:password@host:5672/)")
    return url


def check_redis_url(url: str) -> str:
    """A Redis URL with a host (redis://:password@host:6379/0, rediss:// with TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in _REDIS_SCHEMES or not parts.hostname:
        raise SettingsError("REDIS_URL must be a Redis URL (redis://:password@host:6379/0)")
    return url


def log_level(env: Mapping[str, str], default: str = "INFO") -> str:
    level = env.get("LOG_LEVEL", default).upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return level


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A non-negative integer; `default` when unset or empty."""
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


def env_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds; `default` when unset or empty."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from err
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a positive number of seconds, got {raw}")
    return value
