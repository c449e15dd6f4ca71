"""The record of handled messages that makes redelivery harmless.

RabbitMQ delivers a message at least once: again after a worker died before acknowledging it,
after a lost connection, or when a publisher retried. The message id is inserted in the same
transaction as the handler's work, so the work is committed exactly once per message id.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .events import Delivery
from .models import ProcessedMessage


async def claim(session: AsyncSession, delivery: Delivery) -> bool:
    """Record the message as handled; False when it already was (a duplicate).

    A concurrent delivery of the same message waits on the primary key until this transaction
    ends, then finds the row: it can never be handled twice.
    """
    statement = (
        insert(ProcessedMessage)
        .values(message_id=delivery.message_id, routing_key=delivery.routing_key)
        .on_conflict_do_nothing(index_elements=[ProcessedMessage.message_id])
        .returning(ProcessedMessage.message_id)
    )
    return (await session.execute(statement)).first() is not None
