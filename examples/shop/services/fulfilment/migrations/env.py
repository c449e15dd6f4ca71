"""Alembic environment: the database URL comes from DATABASE_URL (or DATABASE_URL_FILE) alone."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from fulfilment import models  # noqa: F401 - registers the tables on Base.metadata
from fulfilment.database import SCHEMA, create_schema
from fulfilment.db import Base, make_engine
from fulfilment.env import log_level
from fulfilment.logs import configure_logging
from fulfilment.settings import database_url_from_env

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=database_url_from_env(os.environ),
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
    configure_logging(log_level(os.environ))
    engine = make_engine(database_url_from_env(os.environ))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
