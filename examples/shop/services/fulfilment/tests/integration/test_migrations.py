from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from fulfilment.settings import Settings

pytestmark = pytest.mark.integration


def test_upgrade_head_creates_the_tables(settings: Settings, migrated: None) -> None:
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            processed = {c["name"] for c in inspector.get_columns("processed_messages")}
            items = {c["name"] for c in inspector.get_columns("published_items")}
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()

    assert {"message_id", "routing_key", "processed_at"} <= processed
    assert {"source", "item_id", "name", "times_published", "last_message_id"} <= items
    assert version is not None


def test_models_match_the_migrations(alembic_config: Config, migrated: None) -> None:
    # Raises when autogenerate would produce operations: a model change without a revision.
    command.check(alembic_config)


def test_upgrade_is_repeatable(alembic_config: Config, migrated: None) -> None:
    command.upgrade(alembic_config, "head")
    heads = ScriptDirectory.from_config(alembic_config).get_heads()

    assert len(heads) == 1, f"migrations must form one line of history, found heads {heads}"
