"""ORM models. Every change here needs an Alembic revision (see README: migrations policy)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base

ID_MAX_LENGTH = 255
NAME_MAX_LENGTH = 200


class ProcessedMessage(Base):
    """One row per message handled: a message id found here is a duplicate delivery."""

    __tablename__ = "processed_messages"

    message_id: Mapped[str] = mapped_column(String(ID_MAX_LENGTH), primary_key=True)
    routing_key: Mapped[str] = mapped_column(String(ID_MAX_LENGTH))
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class PublishedItem(Base):
    """The example handler's effect: the items the backends announced, with how often."""

    __tablename__ = "published_items"

    source: Mapped[str] = mapped_column(String(ID_MAX_LENGTH), primary_key=True)
    item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    times_published: Mapped[int] = mapped_column(Integer)
    last_message_id: Mapped[str] = mapped_column(String(ID_MAX_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
