"""Reading the events a test made the service publish, from a queue of the test's own."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika


@dataclass(frozen=True)
class Received:
    routing_key: str
    body: dict[str, Any]
    headers: dict[str, Any]
    message_id: str | None
    content_type: str | None
    persistent: bool


class EventQueue:
    """A queue of the test's own, bound to the events exchange; the broker deletes it a minute
    after its last use, so a failed test leaves nothing behind."""

    def __init__(self, url: str, exchange: str, routing_key: str) -> None:
        self.url, self.exchange, self.routing_key = url, exchange, routing_key
        self.name = f"test-{uuid.uuid4().hex}"
        asyncio.run(self._declare())

    async def _declare(self) -> None:
        async with await aio_pika.connect(self.url) as connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.name, arguments={"x-expires": 60_000})
            await queue.bind(exchange, self.routing_key)

    def get(self, timeout: float = 10.0) -> Received | None:
        """The next message (acknowledged), or None when none arrives within `timeout`."""
        return asyncio.run(self._get(timeout))

    async def _get(self, timeout: float) -> Received | None:
        async with await aio_pika.connect(self.url) as connection:
            queue = await (await connection.channel()).get_queue(self.name)
            deadline = time.monotonic() + timeout
            while (message := await queue.get(fail=False)) is None:
                if time.monotonic() > deadline:
                    return None
                await asyncio.sleep(0.05)
            await message.ack()
            return Received(
                routing_key=message.routing_key or "",
                body=json.loads(message.body),
                headers=dict(message.headers),
                message_id=message.message_id,
                content_type=message.content_type,
                persistent=message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
            )
