"""A graceful stop (what SIGTERM asks for) finishes the message in hand and takes no other."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from fulfilment.events import Delivery
from fulfilment.handlers import Handler, record_published_item
from fulfilment.runner import Worker
from fulfilment.settings import Settings

from .helpers import Broker, Database, eventually, running

pytestmark = pytest.mark.integration


def blocking(
    release: asyncio.Event, entered: asyncio.Event, calls: list[str]
) -> dict[str, Handler]:
    async def handler(session: AsyncSession, delivery: Delivery) -> None:
        calls.append(delivery.message_id)
        entered.set()
        await release.wait()
        await record_published_item(session, delivery)

    return {"item.published": handler}


async def test_stop_finishes_and_acknowledges_the_message_in_hand(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    release, entered = asyncio.Event(), asyncio.Event()
    calls: list[str] = []
    worker = Worker(worker_settings, blocking(release, entered, calls))

    async with running(worker) as run:
        message_id = await broker.publish({"item_id": 1, "name": "in hand"})
        await asyncio.wait_for(entered.wait(), timeout=20)
        worker.stop()  # what SIGTERM does
        await eventually(lambda: stopped_consuming(worker), "consuming to stop")
        later = await broker.publish({"item_id": 2, "name": "after the stop"})
        assert not run.done(), "the worker waits for the message in hand"
        release.set()
        assert await asyncio.wait_for(run, timeout=20) == 0

    assert calls == [message_id], "nothing is taken after the stop"
    assert await database.processed(message_id) == 1
    assert await database.processed(later) == 0
    assert await broker.ready(worker_settings.queue) == 1, "only the later message waits"


async def stopped_consuming(worker: Worker) -> bool:
    return not worker.consumer.consuming
