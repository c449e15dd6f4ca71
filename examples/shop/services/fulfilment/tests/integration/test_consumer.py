"""The worker against a real broker and database: handling, duplicates, retries, dead letters."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from fulfilment.events import RETRY_HEADER, ROUTING_KEY_HEADER, Delivery
from fulfilment.handlers import HANDLERS, Handler, record_published_item
from fulfilment.runner import Worker
from fulfilment.settings import Settings

from .helpers import Broker, Database, eventually, running

pytestmark = pytest.mark.integration


def counter(name: str, **labels: str) -> Callable[[], float]:
    """A function reading a counter's current value, so a test compares before and after."""
    return lambda: REGISTRY.get_sample_value(f"{name}_total", labels) or 0.0


def item(item_id: int | None = None) -> dict[str, Any]:
    return {
        "item_id": item_id or secrets.randbelow(10**9) + 1,
        "name": f"item {secrets.token_hex(3)}",
    }


async def test_an_event_is_handled_once_and_acknowledged(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    handled = counter("worker_messages_processed", outcome="handled")
    before = handled()
    event = item()

    async with running(Worker(worker_settings)):
        message_id = await broker.publish(event)
        await eventually(lambda: database_has(database, message_id), "the message to be handled")

    source = worker_settings.queue
    assert await database.times_published(source, int(event["item_id"])) == 1
    assert await broker.ready(worker_settings.queue) == 0, "acknowledged, not back in the queue"
    assert await broker.ready(f"{worker_settings.queue}.dead") == 0
    assert handled() == before + 1


async def database_has(database: Database, message_id: str) -> bool:
    return await database.processed(message_id) == 1


async def test_a_message_delivered_twice_is_handled_once(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    duplicates = counter("worker_messages_processed", outcome="duplicate")
    before = duplicates()
    event = item()

    async with running(Worker(worker_settings)):
        message_id = await broker.publish(event)
        await broker.publish(event, message_id=message_id)
        await eventually(lambda: is_(duplicates() == before + 1), "the duplicate to be skipped")

    assert await database.processed(message_id) == 1
    assert await database.times_published(worker_settings.queue, int(event["item_id"])) == 1


async def is_(value: bool) -> bool:
    return value


async def test_two_announcements_of_one_item_are_two_messages(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    event = item()

    async with running(Worker(worker_settings)):
        # One after the other: messages in hand at the same time are handled in any order.
        first = await broker.publish(event)
        await eventually(lambda: database_has(database, first), "the first message")
        second = await broker.publish({**event, "name": "renamed"})
        await eventually(lambda: database_has(database, second), "the second message")

    assert await database.times_published(worker_settings.queue, int(event["item_id"])) == 2
    name = await database.scalar(
        "SELECT name FROM published_items WHERE source = :s AND item_id = :i",
        s=worker_settings.queue,
        i=event["item_id"],
    )
    assert name == "renamed"


def failing(times: int, calls: list[int]) -> dict[str, Handler]:
    """Handlers whose item.published handler raises `times` times, then works."""

    async def flaky(session: AsyncSession, delivery: Delivery) -> None:
        calls.append(delivery.retries)
        if len(calls) <= times:
            raise RuntimeError(f"failure {len(calls)}")
        await record_published_item(session, delivery)

    return {**HANDLERS, "item.published": flaky}


async def test_a_failing_handler_is_retried_after_each_delay_then_succeeds(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    retries = counter("worker_messages_failed", action="retry")
    before = retries()
    calls: list[int] = []

    async with running(Worker(worker_settings, failing(2, calls))):
        message_id = await broker.publish(item())
        await eventually(lambda: database_has(database, message_id), "the third attempt")

    assert calls == [0, 1, 2]  # the retry count each attempt saw
    assert retries() == before + 2
    assert await broker.ready(worker_settings.queue) == 0
    assert await broker.ready(f"{worker_settings.queue}.dead") == 0


async def test_a_message_out_of_retries_is_dead_lettered_with_its_history(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    calls: list[int] = []
    event = item()
    traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"

    async with running(Worker(worker_settings, failing(99, calls))):
        message_id = await broker.publish(event, headers={"traceparent": traceparent})
        dead = await broker.take(f"{worker_settings.queue}.dead")

    assert calls == [0, 1, 2]  # the first attempt and one per delay
    assert dead.message_id == message_id
    assert json.loads(dead.body) == event
    assert dead.headers[RETRY_HEADER] == 2
    assert dead.headers[ROUTING_KEY_HEADER] == f"{worker_settings.queue}.item.published"
    assert dead.headers["traceparent"] == traceparent
    assert await database.processed(message_id) == 0, "a failed attempt commits nothing"


@pytest.mark.parametrize(
    ("body", "routing_key"),
    [
        (b"not json", None),
        (json.dumps({"item_id": "one", "name": "x"}).encode(), None),
        (json.dumps(item()).encode(), "orders.item.deleted"),
    ],
    ids=["not-json", "invalid-field", "unknown-event"],
)
async def test_a_message_no_retry_can_fix_is_dead_lettered_at_once(
    worker_settings: Settings,
    broker: Broker,
    database: Database,
    body: bytes,
    routing_key: str | None,
) -> None:
    dead_letters = counter("worker_messages_failed", action="dead_letter")
    before = dead_letters()
    settings = worker_settings
    if routing_key:
        settings = dataclasses.replace(worker_settings, subscribes=("orders.item.*",))

    async with running(Worker(settings)):
        message_id = await broker.publish(body, routing_key=routing_key)
        dead = await broker.take(f"{worker_settings.queue}.dead")

    assert dead.message_id == message_id
    assert RETRY_HEADER not in dead.headers, "rejected at the first attempt"
    assert dead_letters() == before + 1
    assert await database.processed(message_id) == 0


async def test_without_the_database_messages_wait_without_using_retries(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    deferred = counter("worker_messages_failed", action="defer")
    before = deferred()
    # Nothing listens on port 1: the database is down for this worker.
    no_database = dataclasses.replace(
        worker_settings,
        database_url="postgresql+psycopg://nobody:none@127.0.0.1:1/none",
        db_connect_timeout=1,
    )
    calls: list[int] = []

    async with running(Worker(no_database, failing(0, calls))):
        message_id = await broker.publish(item())
        await eventually(lambda: is_(deferred() >= before + 2), "the message to be deferred twice")
    async with running(Worker(worker_settings, failing(0, calls))):
        await eventually(lambda: database_has(database, message_id), "the message to be handled")

    assert calls == [0], "deferrals do not count as retries"
    assert await broker.ready(f"{worker_settings.queue}.dead") == 0


async def test_concurrent_deliveries_share_the_prefetch(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def slow(session: AsyncSession, delivery: Delivery) -> None:
        started.append(delivery.message_id)
        await release.wait()
        await record_published_item(session, delivery)

    worker = Worker(worker_settings, {"item.published": slow})
    async with running(worker):
        ids = [await broker.publish(item()) for _ in range(worker_settings.prefetch + 2)]
        await eventually(lambda: is_(len(started) == worker_settings.prefetch), "a full prefetch")
        assert worker.consumer.in_flight == worker_settings.prefetch
        release.set()
        for message_id in ids:
            await eventually(partial(database_has, database, message_id), "every message")
