"""Alembic environment: the database URL comes from the service's settings (environment)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from inventory import models  # noqa: F401 - registers the tables on Base.metadata
from inventory.database import SCHEMA, create_schema
from inventory.db import Base, make_engine
from inventory.logs import configure_logging
from inventory.settings import Settings

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=Settings.from_env().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        context.execute(f'SET search_path TO "{SCHEMA}"')
        context.run_migrations()


def _run(connection: Connection) -> None:
    # Tables and the version table go to the service's schema (the search_path): services
    # sharing a database cannot collide.
    create_schema(connection)
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # A caller (tests, tools) may hand over its own connection.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
