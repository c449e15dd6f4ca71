from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from orders.fixtures import DEFAULT_PATH, main, read_items
from orders.models import Item
from orders.settings import Settings

pytestmark = pytest.mark.integration


def test_fixtures_load_idempotently(settings: Settings, migrated: None) -> None:
    expected = {item.name for item in read_items(DEFAULT_PATH)}
    assert expected, "fixtures/items.json must not be empty"

    assert main([]) == 0
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            first = connection.execute(select(Item.name, Item.id)).all()
        assert main([str(DEFAULT_PATH)]) == 0
        with engine.connect() as connection:
            second = connection.execute(select(Item.name, Item.id)).all()
    finally:
        engine.dispose()

    assert expected <= {name for name, _ in first}
    assert sorted(second) == sorted(first)
