"""Which failures are the message's and which the database's, on a real broker and database.

A failure of the work (the handler timed out, PostgreSQL cancelled its statement or chose it as a
deadlock's victim) is retried and then dead-lettered; only a database that cannot be reached
defers the message, without using its retries, and no more than WORKER_MAX_DEFERRALS times.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fulfilment.db import make_async_engine
from fulfilment.events import DEFERRALS_HEADER, RETRY_HEADER, Delivery
from fulfilment.handlers import Handler, record_published_item
from fulfilment.runner import Worker
from fulfilment.settings import Settings

from .helpers import Broker, Database, eventually, running

pytestmark = pytest.mark.integration


async def handled(database: Database, message_id: str) -> bool:
    return await database.processed(message_id) == 1


def failed(action: str) -> float:
    return REGISTRY.get_sample_value("worker_messages_failed_total", {"action": action}) or 0.0


Work = Callable[[AsyncSession], Awaitable[None]]


def handlers_of(work: Work, calls: list[int]) -> dict[str, Handler]:
    """item.published runs `work` in the message's transaction, recording each attempt's retry
    count, then records the item."""

    async def handler(session: AsyncSession, delivery: Delivery) -> None:
        calls.append(delivery.retries)
        await work(session)
        await record_published_item(session, delivery)

    return {"item.published": handler}


async def times_out(_: AsyncSession) -> None:
    async with asyncio.timeout(0.01):  # e.g. a call to another service that takes too long
        await asyncio.sleep(1)


async def statement_times_out(session: AsyncSession) -> None:
    await session.execute(text("SET LOCAL statement_timeout = '50ms'"))
    await session.execute(text("SELECT pg_sleep(1)"))  # cancelled by PostgreSQL (57014)


def deadlocks_with(rival: AsyncEngine) -> Work:
    """Work that takes advisory lock A then waits for B, while a rival transaction holds B and
    then waits for A: PostgreSQL finds the cycle after deadlock_timeout (1 s) in the session that
    waited first, the handler's, and aborts it (40P01); the rival then gets A and commits."""

    async def work(session: AsyncSession) -> None:
        a, b = secrets.randbelow(2**31), secrets.randbelow(2**31)
        rival_holds_b = asyncio.Event()

        async def rival_transaction() -> None:
            async with rival.begin() as connection:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:b)"), {"b": b})
                rival_holds_b.set()
                await asyncio.sleep(0.3)  # the handler is waiting for B by now
                await connection.execute(text("SELECT pg_advisory_xact_lock(:a)"), {"a": a})

        await session.execute(text("SELECT pg_advisory_xact_lock(:a)"), {"a": a})
        task = asyncio.create_task(rival_transaction())
        await rival_holds_b.wait()
        try:
            await session.execute(text("SELECT pg_advisory_xact_lock(:b)"), {"b": b})
        finally:
            await asyncio.wait_for(task, timeout=10)

    return work


@pytest.fixture
async def rival(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The deadlock's other party: a connection of its own to the same database."""
    engine = make_async_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("failure", ["handler-timeout", "statement-timeout", "deadlock"])
async def test_a_failure_of_the_work_is_retried_then_dead_lettered(
    worker_settings: Settings,
    broker: Broker,
    database: Database,
    rival: AsyncEngine,
    failure: str,
) -> None:
    work = {
        "handler-timeout": times_out,
        "statement-timeout": statement_times_out,
        "deadlock": deadlocks_with(rival),
    }[failure]
    deferred_before, retried_before = failed("defer"), failed("retry")
    calls: list[int] = []

    async with running(Worker(worker_settings, handlers_of(work, calls))):
        message_id = await broker.publish({"item_id": 1, "name": failure})
        dead = await broker.take(f"{worker_settings.queue}.dead")

    assert dead.message_id == message_id
    assert calls == [0, 1, 2], "the first attempt and one per retry delay"
    assert dead.headers[RETRY_HEADER] == 2
    assert failed("retry") == retried_before + 2
    assert failed("defer") == deferred_before, "the database was there all along"
    assert await database.processed(message_id) == 0


async def test_a_lost_database_connection_is_deferred_and_the_message_then_handled(
    worker_settings: Settings, broker: Broker, database: Database
) -> None:
    deferred_before = failed("defer")
    calls: list[int] = []

    async def connection_lost_once(session: AsyncSession) -> None:
        if len(calls) == 1:
            # The server ends this very session, as a failover or a restart would (57P01).
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    async with running(Worker(worker_settings, handlers_of(connection_lost_once, calls))):
        message_id = await broker.publish({"item_id": secrets.randbelow(10**9) + 1, "name": "x"})
        await eventually(partial(handled, database, message_id), "the message to be handled")

    assert calls == [0, 0], "deferred: the retry count did not move"
    assert failed("defer") == deferred_before + 1
    assert await broker.ready(f"{worker_settings.queue}.dead") == 0


async def test_deferrals_are_capped_then_count_as_retries(
    worker_settings: Settings, broker: Broker
) -> None:
    # Nothing listens on port 1: the database is down for this worker, for good.
    no_database = dataclasses.replace(
        worker_settings,
        database_url="postgresql+psycopg://nobody:none@127.0.0.1:1/none",
        db_connect_timeout=1,
        max_deferrals=2,
    )
    deferred_before, retried_before = failed("defer"), failed("retry")

    async with running(Worker(no_database)):
        message_id = await broker.publish({"item_id": 1, "name": "never handled"})
        dead = await broker.take(f"{worker_settings.queue}.dead")

    assert dead.message_id == message_id
    assert dead.headers[DEFERRALS_HEADER] == 2
    assert dead.headers[RETRY_HEADER] == 2
    assert failed("defer") == deferred_before + 2
    assert failed("retry") == retried_before + 2
