from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orders.app import create_app
from orders.settings import Settings


@pytest.fixture
def settings() -> Settings:
    # Nothing listens on port 1: the database is unreachable, as in a unit test it must be.
    return Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", metrics_port=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
