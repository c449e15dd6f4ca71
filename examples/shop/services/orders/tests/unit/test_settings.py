from __future__ import annotations

from pathlib import Path

import pytest

from orders.settings import Settings, SettingsError

pytestmark = pytest.mark.unit

URL = "postgresql+psycopg://user:secret@db:5432/app"


def test_database_url_is_required() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env({})


def test_defaults() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL})

    assert settings.database_url == URL
    assert settings.metrics_port == 9000
    assert settings.log_level == "INFO"


def test_database_url_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text(URL + "\n", encoding="utf-8")

    settings = Settings.from_env({"DATABASE_URL_FILE": str(secret)})

    assert settings.database_url == URL


def test_unreadable_secret_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL_FILE"):
        Settings.from_env({"DATABASE_URL_FILE": str(tmp_path / "missing")})


def test_url_and_file_together_are_ambiguous(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text(URL, encoding="utf-8")

    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({"DATABASE_URL": URL, "DATABASE_URL_FILE": str(secret)})


@pytest.mark.parametrize(
    "given",
    ["postgresql://user:secret@db:5432/app", "postgres://user:secret@db:5432/app"],
)
def test_plain_postgres_urls_use_psycopg(given: str) -> None:
    assert Settings.from_env({"DATABASE_URL": given}).database_url == URL


def test_other_databases_are_rejected() -> None:
    with pytest.raises(SettingsError, match="PostgreSQL"):
        Settings.from_env({"DATABASE_URL": "mysql://user@db/app"})


def test_integers_are_validated() -> None:
    with pytest.raises(SettingsError, match="METRICS_PORT"):
        Settings.from_env({"DATABASE_URL": URL, "METRICS_PORT": "nine"})


def test_log_level() -> None:
    assert Settings.from_env({"DATABASE_URL": URL, "LOG_LEVEL": "debug"}).log_level == "DEBUG"
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        Settings.from_env({"DATABASE_URL": URL, "LOG_LEVEL": "loud"})


def test_publishing_is_off_without_amqp_url() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL})

    assert settings.amqp_url is None
    assert settings.amqp_exchange == "events"


def test_amqp_settings(tmp_path: Path) -> None:
    secret = tmp_path / "amqp-url"
    secret.write_text("amqp://user:secret@mq:5672/\n", encoding="utf-8")

    settings = Settings.from_env(
        {
            "DATABASE_URL": URL,
            "AMQP_URL_FILE": str(secret),
            "AMQP_EXCHANGE": "shop-events",
            "AMQP_TIMEOUT": "1.5",
        }
    )

    assert settings.amqp_url == "amqp://user:secret@mq:5672/"
    assert settings.amqp_exchange == "shop-events"
    assert settings.amqp_timeout == 1.5


def test_a_non_amqp_url_is_rejected() -> None:
    with pytest.raises(SettingsError, match="AMQP_URL"):
        Settings.from_env({"DATABASE_URL": URL, "AMQP_URL": "http://mq:15672/"})
