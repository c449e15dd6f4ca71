"""Database engine and ORM base (SQLAlchemy 2, psycopg 3)."""

from __future__ import annotations

import anyio
import sqlalchemy
from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .database import connect_args
from .settings import Settings

# Deterministic constraint names, so migrations can refer to (and later drop) them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(settings: Settings) -> Engine:
    # Looked up on the module at call time: tracing patches sqlalchemy.create_engine.
    return sqlalchemy.create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # A request waits this long for a connection, then fails as "database unavailable" (503).
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args=connect_args(settings.db_connect_timeout),
    )


def make_probe_engine(settings: Settings) -> Engine:
    """One connection of its own for /readyz: a pool saturated by requests must not make the
    probe wait (and time out), which would take every busy replica out of the Service at once."""
    return sqlalchemy.create_engine(
        settings.database_url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=settings.db_connect_timeout,
        pool_pre_ping=True,
        connect_args=connect_args(settings.db_connect_timeout),
    )


def make_database_slots(settings: Settings) -> anyio.Semaphore:
    """One slot per connection the requests' pool can open (see items.database_slot)."""
    return anyio.Semaphore(settings.db_pool_size + settings.db_max_overflow)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
