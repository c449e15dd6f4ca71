from __future__ import annotations

from pathlib import Path

import pytest

from inventory.env import (
    SettingsError,
    check_amqp_url,
    env_int,
    env_seconds,
    log_level,
    normalize_database_url,
    read_secret,
)

pytestmark = pytest.mark.unit


def test_secret_from_the_environment_or_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n", encoding="utf-8")

    assert read_secret({"TOKEN": "direct"}, "TOKEN") == "direct"
    assert read_secret({"TOKEN_FILE": str(secret)}, "TOKEN") == "from-file"
    assert read_secret({}, "TOKEN") is None
    assert read_secret({"TOKEN": ""}, "TOKEN") is None


def test_secret_given_twice_or_unreadable_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x", encoding="utf-8")

    with pytest.raises(SettingsError, match="not both"):
        read_secret({"TOKEN": "x", "TOKEN_FILE": str(secret)}, "TOKEN")
    with pytest.raises(SettingsError, match="TOKEN_FILE"):
        read_secret({"TOKEN_FILE": str(tmp_path / "missing")}, "TOKEN")


@pytest.mark.parametrize(
    "given",
    [
        "postgresql+psycopg://u:p@db:5432/app",
        "postgresql://u:p@db:5432/app",
        "postgres://u:p@db:5432/app",
    ],
)
def test_database_urls_use_psycopg(given: str) -> None:
    assert normalize_database_url(given) == "postgresql+psycopg://u:p@db:5432/app"


def test_other_databases_are_rejected() -> None:
    with pytest.raises(SettingsError, match="PostgreSQL"):
        normalize_database_url("mysql://u@db/app")


@pytest.mark.parametrize("url", ["amqp://u:p@mq:5672/", "amqps://u:p@mq/vhost", "amqp://mq"])
def test_amqp_urls(url: str) -> None:
    assert check_amqp_url(url) == url


@pytest.mark.parametrize("url", ["http://mq:5672/", "amqp://", "mq:5672", ""])
def test_non_amqp_urls_are_rejected(url: str) -> None:
    with pytest.raises(SettingsError, match="AMQP_URL"):
        check_amqp_url(url)


def test_log_level() -> None:
    assert log_level({}) == "INFO"
    assert log_level({"LOG_LEVEL": "debug"}) == "DEBUG"
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        log_level({"LOG_LEVEL": "loud"})


def test_integers() -> None:
    assert env_int({}, "N", 3) == 3
    assert env_int({"N": ""}, "N", 3) == 3
    assert env_int({"N": "0"}, "N", 3) == 0
    with pytest.raises(SettingsError, match="integer"):
        env_int({"N": "three"}, "N", 3)
    with pytest.raises(SettingsError, match="negative"):
        env_int({"N": "-1"}, "N", 3)


def test_seconds() -> None:
    assert env_seconds({}, "T", 2.5) == 2.5
    assert env_seconds({"T": "0.25"}, "T", 2.5) == 0.25
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(SettingsError, match="T must be"):
            env_seconds({"T": bad}, "T", 2.5)
