"""Database engines and ORM base (SQLAlchemy 2, psycopg 3): async for the worker, sync for
Alembic."""

from __future__ import annotations

import sqlalchemy
import sqlalchemy.ext.asyncio
from sqlalchemy import Engine, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from .database import connect_args

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


def make_async_engine(
    url: str, pool_size: int = 5, connect_timeout: int = 2, pool_timeout: float = 5.0
) -> AsyncEngine:
    # Looked up on the module at call time: tracing patches create_async_engine. No pre-ping (a
    # round trip per message): a connection found dead fails its message, which is deferred
    # (consumer.py), and SQLAlchemy then replaces every connection of the pool.
    return sqlalchemy.ext.asyncio.create_async_engine(
        url,
        pool_size=pool_size,
        # A message waits this long for a connection, then is deferred (database unavailable).
        pool_timeout=pool_timeout,
        connect_args=connect_args(connect_timeout),
    )


def make_probe_engine(url: str, connect_timeout: int = 2) -> AsyncEngine:
    """One connection of its own for /readyz: messages holding every pooled connection must not
    make the probe wait behind them."""
    return sqlalchemy.ext.asyncio.create_async_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=connect_timeout,
        pool_pre_ping=True,
        connect_args=connect_args(connect_timeout),
    )


def make_engine(url: str, connect_timeout: int = 2) -> Engine:
    return sqlalchemy.create_engine(url, connect_args=connect_args(connect_timeout))


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
