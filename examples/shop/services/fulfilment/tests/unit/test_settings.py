from __future__ import annotations

from pathlib import Path

import pytest

from fulfilment import DEFAULT_SUBSCRIBES, SERVICE_NAME
from fulfilment.settings import Settings, SettingsError, database_url_from_env, topic_patterns

pytestmark = pytest.mark.unit

DB = "postgresql+psycopg://user:secret@db:5432/app"
MQ = "amqp://user:secret@mq:5672/"
BOTH = {"DATABASE_URL": DB, "AMQP_URL": MQ}


@pytest.mark.parametrize("missing", ["DATABASE_URL", "AMQP_URL"])
def test_database_and_broker_are_required(missing: str) -> None:
    env = {k: v for k, v in BOTH.items() if k != missing}

    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)


def test_defaults() -> None:
    settings = Settings.from_env(BOTH)

    assert settings.database_url == DB
    assert settings.amqp_url == MQ
    assert settings.exchange == "events"
    assert settings.queue == SERVICE_NAME
    assert settings.subscribes == topic_patterns(DEFAULT_SUBSCRIBES)
    assert settings.prefetch == 8
    assert settings.retry_delays == (1.0, 10.0, 60.0)
    assert settings.metrics_port == 9000


def test_secrets_from_mounted_files(tmp_path: Path) -> None:
    (tmp_path / "db").write_text("postgres://user:secret@db:5432/app\n", encoding="utf-8")
    (tmp_path / "mq").write_text(MQ + "\n", encoding="utf-8")

    settings = Settings.from_env(
        {"DATABASE_URL_FILE": str(tmp_path / "db"), "AMQP_URL_FILE": str(tmp_path / "mq")}
    )

    assert settings.database_url == DB
    assert settings.amqp_url == MQ


def test_everything_can_be_set() -> None:
    settings = Settings.from_env(
        {
            **BOTH,
            "AMQP_EXCHANGE": "shop-events",
            "WORKER_QUEUE": "audit",
            "WORKER_SUBSCRIBES": " orders.item.published , inventory.# ",
            "WORKER_PREFETCH": "2",
            "WORKER_RETRY_DELAYS": "0.5, 2",
            "WORKER_SHUTDOWN_TIMEOUT": "5",
            "METRICS_PORT": "0",
            "LOG_LEVEL": "debug",
        }
    )

    assert settings.exchange == "shop-events"
    assert settings.queue == "audit"
    assert settings.subscribes == ("orders.item.published", "inventory.#")
    assert settings.prefetch == 2
    assert settings.retry_delays == (0.5, 2.0)
    assert settings.shutdown_timeout == 5.0
    assert settings.metrics_port == 0
    assert settings.log_level == "DEBUG"


def test_no_retries() -> None:
    assert Settings.from_env({**BOTH, "WORKER_RETRY_DELAYS": ""}).retry_delays == ()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WORKER_SUBSCRIBES", "orders item"),
        ("WORKER_SUBSCRIBES", "orders.*.publi$hed"),
        ("WORKER_SUBSCRIBES", " , "),
        ("WORKER_RETRY_DELAYS", "1,soon"),
        ("WORKER_RETRY_DELAYS", "0"),
        ("WORKER_PREFETCH", "0"),
        ("WORKER_QUEUE", "a queue"),
        ("AMQP_EXCHANGE", "x" * 201),
        ("AMQP_URL", "http://mq:15672/"),
        ("WORKER_SHUTDOWN_TIMEOUT", "-1"),
    ],
)
def test_invalid_values_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({**BOTH, variable: value})


def test_migrations_need_the_database_alone() -> None:
    assert database_url_from_env({"DATABASE_URL": "postgresql://u:p@db/app"}).startswith(
        "postgresql+psycopg://"
    )
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        database_url_from_env({"AMQP_URL": MQ})
