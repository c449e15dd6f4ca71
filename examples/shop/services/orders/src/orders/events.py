"""Events this service publishes to RabbitMQ, on one durable topic exchange (AMQP_EXCHANGE).

Messages are persistent JSON with a unique `message_id` (consumers use it to skip duplicates) and
the W3C trace context in their headers, so a consumer's spans join the trace of the request that
published them. Each publish waits for the broker's confirm. The connection is made on first use,
not at start-up: the service starts, and is ready, without the broker; publishing fails with
PublishError (the API answers 503) until the broker can be reached.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from . import SERVICE_NAME
from .amqp import connect_robust
from .propagation import inject_headers

tracer = trace.get_tracer(__name__)


class PublishError(RuntimeError):
    """The broker could not be reached, or did not confirm the message in time."""


class EventPublisher:
    def __init__(self, url: str, exchange: str, timeout: float) -> None:
        self._url = url
        self._exchange_name = exchange
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def _exchange_ready(self) -> AbstractExchange:
        async with self._lock:
            if self._exchange is None:
                # Robust: once made, the connection (and its channel) is restored after a loss.
                connection = await connect_robust(self._url, self._timeout)
                try:
                    channel = await connection.channel(publisher_confirms=True)
                    self._exchange = await channel.declare_exchange(
                        self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                    )
                except BaseException:
                    await connection.close()
                    raise
                self._connection = connection
            return self._exchange

    async def publish(self, routing_key: str, payload: Mapping[str, object]) -> str:
        """Publish `payload` as JSON and wait for the broker's confirm; return the message id."""
        message_id = uuid.uuid4().hex
        attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "send",
            "messaging.destination.name": self._exchange_name,
            "messaging.rabbitmq.destination.routing_key": routing_key,
            "messaging.message.id": message_id,
        }
        with tracer.start_as_current_span(
            f"publish {self._exchange_name}", kind=SpanKind.PRODUCER, attributes=attributes
        ):
            message = aio_pika.Message(
                json.dumps(payload).encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                timestamp=datetime.now(UTC),
                app_id=SERVICE_NAME,
                # Inside the producer span: the consumer's span becomes its child.
                headers=inject_headers(),
            )
            try:
                async with asyncio.timeout(self._timeout):
                    exchange = await self._exchange_ready()
                    await exchange.publish(message, routing_key=routing_key)
            except (TimeoutError, *CONNECTION_EXCEPTIONS) as err:
                raise PublishError(f"{type(err).__name__}: {err}") from err
        return message_id

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                await self._connection.close()
            self._connection = None
            self._exchange = None
