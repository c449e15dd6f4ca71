from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from fulfilment.database import SCHEMA, SchemaState, connect_args, schema_state
from fulfilment.db import Base
from fulfilment.settings import Settings

pytestmark = pytest.mark.integration


def service_engine(settings: Settings) -> Engine:
    """An engine that connects as the service does (its schema as the search_path)."""
    return create_engine(settings.database_url, connect_args=connect_args(5))


def test_upgrade_head_creates_the_tables(settings: Settings, migrated: None) -> None:
    engine = service_engine(settings)
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


def test_every_table_and_the_version_table_live_in_the_service_schema(
    settings: Settings, migrated: None
) -> None:
    # A plain connection (search_path public): the tables are found in SCHEMA, and only there.
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names(schema=SCHEMA))
    finally:
        engine.dispose()

    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def test_the_schema_is_current_at_head_or_ahead_and_behind_otherwise(
    settings: Settings, migrated: None
) -> None:
    """Each state is made inside a transaction that is rolled back: no committed data changes."""
    engine = service_engine(settings)
    try:
        with engine.connect() as connection:
            assert schema_state(connection) is SchemaState.CURRENT
            connection.execute(text("UPDATE alembic_version SET version_num = 'a-newer-release'"))
            assert schema_state(connection) is SchemaState.CURRENT, "ahead: additive migrations"
            connection.execute(text("DELETE FROM alembic_version"))
            assert schema_state(connection) is SchemaState.BEHIND
            connection.rollback()
    finally:
        engine.dispose()
