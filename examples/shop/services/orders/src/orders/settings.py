"""Settings read from environment variables (see env.py for secrets given as files)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .env import (
    SettingsError,
    check_amqp_url,
    env_int,
    env_seconds,
    log_level,
    normalize_database_url,
    read_secret,
)
from .tokens import TokenSettings, settings_from_env

__all__ = ["Settings", "SettingsError"]

_ROOT_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*")


def _root_path(env: Mapping[str, str]) -> str:
    value = env.get("ROOT_PATH", "").strip().rstrip("/")
    if not _ROOT_PATH.fullmatch(value):
        raise SettingsError("ROOT_PATH must be a path prefix such as /api/orders (or empty)")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str
    metrics_port: int = 9000
    metrics_host: str = "0.0.0.0"  # noqa: S104 - the metrics port is scraped from outside the pod
    log_level: str = "INFO"
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_pool_timeout: float = 5.0
    db_connect_timeout: int = 2
    # RabbitMQ, for publishing events; None: publishing answers 503, nothing else changes.
    amqp_url: str | None = None
    amqp_exchange: str = "events"
    amqp_timeout: float = 5.0
    # The ecosystem's OIDC issuer (AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL): the API's routes
    # require its bearer tokens. None (none of the three set): no verification, as in the
    # service's own compose file; the ecosystem's compose and charts set them.
    auth: TokenSettings | None = None
    # The path prefix the gateway routes to this service and strips (ROOT_PATH, e.g. /api/orders):
    # /docs then asks for <prefix>/openapi.json and the document's servers say <prefix>, so both
    # work through the gateway. Empty: served at the root, as in the service's own compose file.
    root_path: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        database_url = read_secret(env, "DATABASE_URL")
        if not database_url:
            raise SettingsError("DATABASE_URL (or DATABASE_URL_FILE) must be set")
        amqp_url = read_secret(env, "AMQP_URL")
        try:
            auth = settings_from_env(env)
        except ValueError as err:
            raise SettingsError(str(err)) from err
        return cls(
            database_url=normalize_database_url(database_url),
            metrics_port=env_int(env, "METRICS_PORT", cls.metrics_port),
            metrics_host=env.get("METRICS_HOST", cls.metrics_host),
            log_level=log_level(env, cls.log_level),
            db_pool_size=env_int(env, "DB_POOL_SIZE", cls.db_pool_size),
            db_max_overflow=env_int(env, "DB_MAX_OVERFLOW", cls.db_max_overflow),
            db_pool_timeout=env_seconds(env, "DB_POOL_TIMEOUT", cls.db_pool_timeout),
            db_connect_timeout=env_int(env, "DB_CONNECT_TIMEOUT", cls.db_connect_timeout),
            amqp_url=check_amqp_url(amqp_url) if amqp_url else None,
            amqp_exchange=env.get("AMQP_EXCHANGE") or cls.amqp_exchange,
            amqp_timeout=env_seconds(env, "AMQP_TIMEOUT", cls.amqp_timeout),
            auth=auth,
            root_path=_root_path(env),
        )
