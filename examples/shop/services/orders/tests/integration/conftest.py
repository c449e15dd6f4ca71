"""Integration tests need a real PostgreSQL and a real RabbitMQ: DATABASE_URL and AMQP_URL must
point at them.

They run the migrations on the database and create rows with unique names, and read events from
queues of their own (which expire a minute after their last use), so they can run against a
development database and broker too (nothing is dropped or purged).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from orders.app import create_app
from orders.settings import Settings

from .event_queue import EventQueue

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOW_TO_RUN = "(or run `docker compose --profile test run --rm orders-test`)"


@pytest.fixture(scope="session")
def settings() -> Settings:
    if not (os.environ.get("DATABASE_URL") or os.environ.get("DATABASE_URL_FILE")):
        pytest.fail(
            "integration tests need a PostgreSQL database: set DATABASE_URL, e.g. "
            "postgresql+psycopg://user:password@127.0.0.1:5432/orders " + HOW_TO_RUN,
            pytrace=False,
        )
    return Settings.from_env()


@pytest.fixture(scope="session")
def amqp_settings(settings: Settings) -> Settings:
    if settings.amqp_url is None:
        pytest.fail(
            "integration tests need RabbitMQ: set AMQP_URL, e.g. "
            "amqp://user:password@127.0.0.1:5672/ " + HOW_TO_RUN,
            pytrace=False,
        )
    return settings


@pytest.fixture(scope="session")
def alembic_config(settings: Settings) -> Config:
    # `settings` first: a missing DATABASE_URL fails with its own message, not Alembic's.
    return Config(str(PROJECT_ROOT / "alembic.ini"))


@pytest.fixture(scope="session")
def migrated(alembic_config: Config) -> None:
    command.upgrade(alembic_config, "head")


@pytest.fixture
def client(settings: Settings, migrated: None) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=settings.database_url, metrics_port=0))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def publishing_client(amqp_settings: Settings, migrated: None) -> Iterator[TestClient]:
    app = create_app(dataclasses.replace(amqp_settings, metrics_port=0))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def item_events(amqp_settings: Settings) -> EventQueue:
    assert amqp_settings.amqp_url is not None
    return EventQueue(amqp_settings.amqp_url, amqp_settings.amqp_exchange, "*.item.published")
