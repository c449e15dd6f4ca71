"""Integration tests need a real PostgreSQL and a real RabbitMQ: DATABASE_URL and AMQP_URL must
point at them.

They run the migrations on the database, and each test declares a topology of its own (an
exchange and queues named after a random id) that it deletes afterwards, so they can run against
a development database and broker too without touching their data.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from fulfilment.logs import configure_logging
from fulfilment.settings import Settings
from fulfilment.tracing import configure_tracing

from .helpers import Broker, Database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOW_TO_RUN = "(or run `docker compose --profile test run --rm fulfilment-test`)"


@pytest.fixture(scope="session")
def settings() -> Settings:
    for variable, example in (
        ("DATABASE_URL", "postgresql+psycopg://user:password@127.0.0.1:5432/fulfilment"),
        ("AMQP_URL", "amqp://user:password@127.0.0.1:5672/"),
    ):
        if not (os.environ.get(variable) or os.environ.get(f"{variable}_FILE")):
            pytest.fail(
                f"integration tests need PostgreSQL and RabbitMQ: set {variable}, e.g. {example} "
                + HOW_TO_RUN,
                pytrace=False,
            )
    configure_logging("INFO")
    configure_tracing(default_service_name="test")
    return Settings.from_env()


@pytest.fixture(scope="session")
def alembic_config(settings: Settings) -> Config:
    # `settings` first: a missing DATABASE_URL fails with its own message, not Alembic's.
    return Config(str(PROJECT_ROOT / "alembic.ini"))


@pytest.fixture(scope="session")
def migrated(alembic_config: Config) -> None:
    command.upgrade(alembic_config, "head")


@pytest.fixture
def worker_settings(settings: Settings, migrated: None) -> Settings:
    """The environment's settings with a topology of the test's own and short retry delays."""
    run = uuid.uuid4().hex[:12]
    return dataclasses.replace(
        settings,
        exchange=f"test-{run}-events",
        queue=f"test-{run}",
        subscribes=("*.item.published",),
        retry_delays=(0.1, 0.2),
        prefetch=4,
        shutdown_timeout=10.0,
        metrics_port=0,
    )


@pytest.fixture
async def broker(worker_settings: Settings) -> AsyncIterator[Broker]:
    async with Broker(worker_settings) as test_broker:
        yield test_broker


@pytest.fixture
async def database(settings: Settings, migrated: None) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        await db.close()
