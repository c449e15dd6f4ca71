"""Integration tests need a real PostgreSQL: DATABASE_URL must point at one.

They run the migrations on it and create rows with unique names, so they can run against a
development database too (nothing is dropped).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient

from inventory.app import create_app
from inventory.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def settings() -> Settings:
    if not (os.environ.get("DATABASE_URL") or os.environ.get("DATABASE_URL_FILE")):
        pytest.fail(
            "integration tests need a PostgreSQL database: set DATABASE_URL, e.g. "
            "postgresql+psycopg://user:password@127.0.0.1:5432/inventory "
            "(or run `docker compose --profile test run --rm inventory-test`)",
            pytrace=False,
        )
    return Settings.from_env()


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
