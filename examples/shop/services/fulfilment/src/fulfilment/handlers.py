"""Event handlers: one coroutine per event, run inside the message's database transaction.

A handler raises InvalidMessageError for a message no retry can fix; any other exception is retried
(WORKER_RETRY_DELAYS) and then dead-lettered. It never commits: the consumer commits its work
together with the message's idempotency record, then acknowledges the message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .events import Delivery, ItemPublished
from .models import PublishedItem

logger = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Delivery], Awaitable[None]]


async def record_published_item(session: AsyncSession, delivery: Delivery) -> None:
    """Keep the latest name of each announced item and count the announcements."""
    event = ItemPublished.from_json(delivery.body)
    statement = insert(PublishedItem).values(
        source=delivery.source,
        item_id=event.item_id,
        name=event.name,
        times_published=1,
        last_message_id=delivery.message_id,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[PublishedItem.source, PublishedItem.item_id],
        set_={
            "name": statement.excluded.name,
            "times_published": PublishedItem.times_published + 1,
            "last_message_id": statement.excluded.last_message_id,
            "updated_at": func.now(),
        },
    )
    await session.execute(statement)
    logger.info("item recorded", extra={"source": delivery.source, "item_id": event.item_id})


# Event (routing key without its first word) -> handler.
HANDLERS: Mapping[str, Handler] = {
    "item.published": record_published_item,
}
