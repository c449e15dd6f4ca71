"""Settings read from environment variables (see env.py for secrets given as files)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from . import DEFAULT_SUBSCRIBES, SERVICE_NAME
from .env import (
    SettingsError,
    check_amqp_url,
    env_int,
    env_seconds,
    log_level,
    normalize_database_url,
    read_secret,
)

__all__ = ["Settings", "SettingsError", "database_url_from_env", "topic_patterns"]

# A word of a routing key, or the topic wildcards: `*` one word, `#` any number of words.
_TOPIC_WORD = re.compile(r"^([A-Za-z0-9_-]+|\*|#)$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def topic_patterns(text: str) -> tuple[str, ...]:
    """Comma-separated AMQP topic patterns, e.g. `orders.item.published,inventory.#`."""
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    if not patterns:
        raise SettingsError("WORKER_SUBSCRIBES must name at least one topic pattern")
    for pattern in patterns:
        if not all(_TOPIC_WORD.match(word) for word in pattern.split(".")):
            raise SettingsError(
                f"WORKER_SUBSCRIBES: {pattern!r} is not a topic pattern "
                "(dot-separated words, `*` for one word, `#` for any)"
            )
    return patterns


def retry_delays(text: str) -> tuple[float, ...]:
    """Comma-separated seconds to wait before each retry; empty: no retries."""
    delays = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        try:
            delay = float(raw)
        except ValueError as err:
            raise SettingsError(f"WORKER_RETRY_DELAYS: {raw!r} is not a number of seconds") from err
        if not 0.001 <= delay <= 86_400:
            raise SettingsError(f"WORKER_RETRY_DELAYS: {raw} is not between 1 ms and one day")
        delays.append(delay)
    return tuple(delays)


def _name(env: Mapping[str, str], variable: str, default: str) -> str:
    value = env.get(variable) or default
    if not _NAME.match(value):
        raise SettingsError(f"{variable} must be a queue or exchange name, got {value!r}")
    return value


def database_url_from_env(env: Mapping[str, str]) -> str:
    """DATABASE_URL (or DATABASE_URL_FILE) alone: what the migrations need."""
    url = read_secret(env, "DATABASE_URL")
    if not url:
        raise SettingsError("DATABASE_URL (or DATABASE_URL_FILE) must be set")
    return normalize_database_url(url)


@dataclass(frozen=True)
class Settings:
    database_url: str
    amqp_url: str
    exchange: str = "events"
    queue: str = SERVICE_NAME
    subscribes: tuple[str, ...] = topic_patterns(DEFAULT_SUBSCRIBES)
    # Messages handled at once (the channel's prefetch): each holds a database connection.
    prefetch: int = 8
    retry_delays: tuple[float, ...] = (1.0, 10.0, 60.0)
    # Deferrals while no database connection can be had; then the failure counts as a retry.
    # With the default delays: 1 s, 10 s, then 60 s each, about 20 minutes of outage.
    max_deferrals: int = 22
    # How long SIGTERM waits for the messages in hand; keep it below the pod's grace period.
    shutdown_timeout: float = 20.0
    amqp_timeout: float = 5.0
    metrics_port: int = 9000
    metrics_host: str = "0.0.0.0"  # noqa: S104 - probes and Prometheus come from outside the pod
    log_level: str = "INFO"
    db_pool_size: int = 5
    db_pool_timeout: float = 5.0
    db_connect_timeout: int = 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        amqp_url = read_secret(env, "AMQP_URL")
        if not amqp_url:
            raise SettingsError("AMQP_URL (or AMQP_URL_FILE) must be set")
        prefetch = env_int(env, "WORKER_PREFETCH", cls.prefetch)
        if prefetch < 1:
            raise SettingsError("WORKER_PREFETCH must be at least 1")
        delays = env.get("WORKER_RETRY_DELAYS")
        return cls(
            database_url=database_url_from_env(env),
            amqp_url=check_amqp_url(amqp_url),
            exchange=_name(env, "AMQP_EXCHANGE", cls.exchange),
            queue=_name(env, "WORKER_QUEUE", cls.queue),
            subscribes=topic_patterns(env.get("WORKER_SUBSCRIBES") or DEFAULT_SUBSCRIBES),
            prefetch=prefetch,
            retry_delays=cls.retry_delays if delays is None else retry_delays(delays),
            max_deferrals=env_int(env, "WORKER_MAX_DEFERRALS", cls.max_deferrals),
            shutdown_timeout=env_seconds(env, "WORKER_SHUTDOWN_TIMEOUT", cls.shutdown_timeout),
            amqp_timeout=env_seconds(env, "AMQP_TIMEOUT", cls.amqp_timeout),
            metrics_port=env_int(env, "METRICS_PORT", cls.metrics_port),
            metrics_host=env.get("METRICS_HOST", cls.metrics_host),
            log_level=log_level(env, cls.log_level),
            db_pool_size=env_int(env, "DB_POOL_SIZE", cls.db_pool_size),
            db_pool_timeout=env_seconds(env, "DB_POOL_TIMEOUT", cls.db_pool_timeout),
            db_connect_timeout=env_int(env, "DB_CONNECT_TIMEOUT", cls.db_connect_timeout),
        )
