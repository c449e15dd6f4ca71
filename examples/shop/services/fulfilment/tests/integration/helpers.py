"""What the integration tests drive the worker with: a broker client of their own, a worker
running in the test's event loop, and polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from sqlalchemy import text

from fulfilment.db import make_async_engine
from fulfilment.runner import Worker
from fulfilment.settings import Settings
from fulfilment.topology import Topology

DEADLINE_S = 20.0


async def eventually(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `predicate()` is true; fail with `what` after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Broker:
    """Publishes to the test's exchange, inspects its queues, deletes the topology at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topology = Topology.from_settings(settings)
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None

    async def __aenter__(self) -> Broker:
        self._connection = await aio_pika.connect(self.settings.amqp_url)
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.declare_exchange(
            self.topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        channel = await self.channel()
        queues = [self.topology.queue, self.topology.dead_letter_queue]
        queues += [self.topology.retry_queue(n) for n in range(1, self.topology.max_retries + 1)]
        for queue in queues:
            await channel.queue_delete(queue)
        await channel.exchange_delete(self.topology.exchange)
        await channel.exchange_delete(self.topology.dead_letter_exchange)
        if self._connection is not None:
            await self._connection.close()

    async def channel(self) -> AbstractChannel:
        assert self._channel is not None
        return self._channel

    async def publish(
        self,
        payload: Mapping[str, Any] | bytes,
        routing_key: str | None = None,
        message_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """Publish and wait for the confirm; the routing key defaults to `<queue>.item.published`
        (the queue's name as the source keeps the rows of every test apart)."""
        routing_key = routing_key or f"{self.topology.queue}.item.published"
        message_id = message_id or uuid.uuid4().hex
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        exchange = await (await self.channel()).get_exchange(self.topology.exchange)
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id=message_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=dict(headers or {}),
            ),
            routing_key=routing_key,
        )
        return message_id

    async def queue_state(self, queue: str) -> tuple[int, int]:
        """(messages waiting, consumers) of `queue`; raises when it does not exist.

        Messages delivered and not yet acknowledged are not waiting. A passive declaration of a
        missing queue closes its channel, so each look uses a channel of its own.
        """
        assert self._connection is not None
        channel = await self._connection.channel()
        try:
            result = (await channel.declare_queue(queue, passive=True)).declaration_result
            return int(result.message_count or 0), int(result.consumer_count or 0)
        finally:
            if not channel.is_closed:
                await channel.close()

    async def ready(self, queue: str) -> int:
        return (await self.queue_state(queue))[0]

    async def consumers(self, queue: str) -> int:
        return (await self.queue_state(queue))[1]

    async def take(self, queue: str) -> AbstractIncomingMessage:
        """The next message of `queue`, acknowledged; fails when none arrives in time."""
        source = await (await self.channel()).get_queue(queue)
        found: list[AbstractIncomingMessage] = []

        async def arrived() -> bool:
            message = await source.get(fail=False)
            if message is not None:
                await message.ack()
                found.append(message)
            return bool(found)

        await eventually(arrived, f"a message in {queue}")
        return found[0]


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[int]]:
    """The worker's run() in a task, once it consumes; stopped (and awaited) on exit."""
    task = asyncio.create_task(worker.run())

    async def consuming() -> bool:
        if task.done():
            raise AssertionError(f"the worker exited early with {task.result()}")
        return worker.consumer.connected

    await eventually(consuming, "the worker to consume")
    try:
        yield task
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=DEADLINE_S)


class Database:
    """Reads the worker's tables."""

    def __init__(self, url: str) -> None:
        self.engine = make_async_engine(url)

    async def close(self) -> None:
        await self.engine.dispose()

    async def scalar(self, sql: str, **params: object) -> object:
        async with self.engine.connect() as connection:
            value: object = (await connection.execute(text(sql), params)).scalar()
        return value

    async def processed(self, message_id: str) -> int:
        count = await self.scalar(
            "SELECT count(*) FROM processed_messages WHERE message_id = :id", id=message_id
        )
        assert isinstance(count, int)
        return count

    async def times_published(self, source: str, item_id: int) -> int | None:
        value = await self.scalar(
            "SELECT times_published FROM published_items WHERE source = :s AND item_id = :i",
            s=source,
            i=item_id,
        )
        assert value is None or isinstance(value, int)
        return value
