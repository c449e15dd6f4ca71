"""Consuming the queue: at-least-once delivery, made effectively once by the idempotency record.

Each message is handled in its own task, up to WORKER_PREFETCH at once:
1. its trace context is read from its headers and a consumer span starts (a child of the
   publisher's span, so one trace goes from the request that published it into this worker);
2. in one database transaction the message id is recorded (a duplicate delivery finds it and
   is skipped) and the event's handler runs;
3. only after the commit is the message acknowledged. A worker that dies before that leaves it
   unacknowledged, and the broker delivers it again.

When handling fails:
- the message is invalid (InvalidMessageError, or no handler for its event): rejected at once, the
  broker moves it to the dead-letter queue;
- no database connection could be had (refused, timed out, lost, the pool exhausted:
  database.database_unavailable): the message is not at fault, so it is *deferred*: it waits in
  a retry queue without using up a retry, the delay growing with each deferral (the retry
  queues' delays in turn), up to WORKER_MAX_DEFERRALS times; past that it counts as a failure;
- anything else (the handler raised, timed out, hit a deadlock, a lock or statement timeout):
  re-published to the retry queue of its next retry, which sends it back after the delay
  (WORKER_RETRY_DELAYS); after the last retry it is dead-lettered.
A retry or a deferral is published (and confirmed by the broker) before the original is
acknowledged: a crash in between delivers it twice, never zero times.

stop() stops new deliveries, waits for the messages in hand (WORKER_SHUTDOWN_TIMEOUT), then
closes the connection; whatever is still unacknowledged then goes back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelPreconditionFailed
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import SERVICE_NAME
from .amqp import connect_robust
from .database import database_unavailable
from .events import (
    DEFERRALS_HEADER,
    RETRY_HEADER,
    ROUTING_KEY_HEADER,
    Delivery,
    InvalidMessageError,
)
from .handlers import HANDLERS, Handler
from .idempotency import claim
from .metrics import FAILED, HANDLING, IN_FLIGHT, PROCESSED
from .propagation import extract_context
from .settings import Settings
from .topology import Topology, declare

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# Waits before reconnecting to the broker, each shortened at random by up to half (jitter), so
# replicas that lost the broker together do not come back in step.
RECONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def jittered(delay: float) -> float:
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not a secret


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRIED = "retry"
    DEFERRED = "defer"
    DEAD_LETTERED = "dead_letter"


SUCCEEDED = frozenset({Outcome.HANDLED, Outcome.DUPLICATE})

LOG_MESSAGES = {
    Outcome.HANDLED: "message handled",
    Outcome.DUPLICATE: "duplicate message skipped",
    Outcome.RETRIED: "message sent for a retry",
    Outcome.DEFERRED: "message deferred",
    Outcome.DEAD_LETTERED: "message dead-lettered",
}


class UnknownEventError(InvalidMessageError):
    """No handler is registered for the message's event."""


class Consumer:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler] = HANDLERS,
    ) -> None:
        self.settings = settings
        self.topology = Topology.from_settings(settings)
        self._sessionmaker = sessionmaker
        self._handlers = handlers
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()

    @property
    def connected(self) -> bool:
        return (
            self._connection is not None
            and self._connection.connected.is_set()
            and self._channel is not None
            and not self._channel.is_closed
        )

    @property
    def consuming(self) -> bool:
        """Deliveries arrive: between a successful start and stop()."""
        return self._consumer_tag is not None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def connect(self) -> None:
        """Connect, declare the topology and start consuming (one attempt)."""
        connection = await connect_robust(
            self.settings.amqp_url,
            self.settings.amqp_timeout,
            client_properties={"connection_name": f"{SERVICE_NAME} {socket.gethostname()}"},
        )
        try:
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=self.settings.prefetch)
            queue = await declare(channel, self.topology)
            self._consumer_tag = await queue.consume(self._on_message)
        except BaseException:
            await connection.close()
            raise
        # Robust: after a lost connection, the channel, topology and consumer are restored.
        self._connection, self._channel, self._queue = connection, channel, queue

    async def start(self, stop: asyncio.Event) -> bool:
        """Connect, retrying with backoff until connected (True) or `stop` is set (False).

        A topology that contradicts the broker's (a queue declared with other arguments) is not
        retried: it raises ChannelPreconditionFailed.
        """
        attempt = 0
        while not stop.is_set():
            try:
                await self.connect()
            except ChannelPreconditionFailed:
                raise
            except (TimeoutError, *CONNECTION_EXCEPTIONS) as err:
                delay = jittered(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                attempt += 1
                logger.warning(
                    "broker unreachable, retrying",
                    extra={"error": f"{type(err).__name__}: {err}", "retry_in_s": round(delay, 3)},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            else:
                logger.info(
                    "consuming",
                    extra={
                        "queue": self.topology.queue,
                        "exchange": self.topology.exchange,
                        "bindings": list(self.topology.bindings),
                        "prefetch": self.settings.prefetch,
                    },
                )
                return True
        return False

    async def stop(self, timeout: float) -> int:
        """Stop consuming, finish the messages in hand, close; return how many were left."""
        if self._queue is not None and self._consumer_tag is not None:
            # Without a connection there is nothing to cancel: the broker requeues on its own.
            with contextlib.suppress(TimeoutError, *CONNECTION_EXCEPTIONS):
                await self._queue.cancel(self._consumer_tag, timeout=timeout)
            self._consumer_tag = None
        left = 0
        if self._in_flight:
            logger.info("finishing the messages in hand", extra={"in_flight": self.in_flight})
            _, pending = await asyncio.wait(set(self._in_flight), timeout=timeout)
            left = len(pending)
            if left:
                logger.warning(
                    "shutdown timeout: unacknowledged messages go back to the queue",
                    extra={"unfinished": left},
                )
        if self._connection is not None:
            await self._connection.close()
        return left

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()  # aio-pika runs each delivery in a task of its own
        if task is not None:
            self._in_flight.add(task)
        IN_FLIGHT.inc()
        try:
            await self.process(message)
        except Exception:
            # Not acknowledged: the broker delivers the message again (e.g. after a reconnect).
            logger.exception(
                "message left unacknowledged", extra={"message_id": message.message_id}
            )
        finally:
            IN_FLIGHT.dec()
            self._in_flight.discard(task)

    async def process(self, message: AbstractIncomingMessage) -> Outcome:
        started = time.perf_counter()
        delivery = Delivery.from_message(message)
        attributes = {
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "process",
            "messaging.destination.name": self.topology.queue,
            "messaging.rabbitmq.destination.routing_key": delivery.routing_key,
            "messaging.message.id": delivery.message_id,
        }
        with tracer.start_as_current_span(
            f"process {self.topology.queue}",
            context=extract_context(message.headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            outcome = await self._settle(message, delivery)
            elapsed = time.perf_counter() - started
            span.set_attribute("worker.outcome", outcome.value)
            if outcome not in SUCCEEDED:
                # An error: its trace is kept whatever the sampler decided (tracing.ErrorTraces).
                span.set_status(StatusCode.ERROR, LOG_MESSAGES[outcome])
            HANDLING.labels(outcome=outcome.value).observe(elapsed)
            if outcome in SUCCEEDED:
                PROCESSED.labels(outcome=outcome.value).inc()
            else:
                FAILED.labels(action=outcome.value).inc()
            logger.info(
                LOG_MESSAGES[outcome],
                extra={
                    "message_id": delivery.message_id,
                    "routing_key": delivery.routing_key,
                    "outcome": outcome.value,
                    "retries": delivery.retries,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
        return outcome

    async def _handle(self, delivery: Delivery) -> Outcome:
        handler = self._handlers.get(delivery.event)
        if handler is None:
            raise UnknownEventError(f"no handler for the event {delivery.event!r}")
        async with self._sessionmaker() as session, session.begin():
            if not await claim(session, delivery):
                return Outcome.DUPLICATE
            await handler(session, delivery)
        return Outcome.HANDLED

    async def _settle(self, message: AbstractIncomingMessage, delivery: Delivery) -> Outcome:
        """Handle, then acknowledge, retry, defer or reject; return what was done."""
        extra = {"message_id": delivery.message_id, "routing_key": delivery.routing_key}
        try:
            outcome = await self._handle(delivery)
        except InvalidMessageError as err:
            logger.error("invalid message, dead-lettered", extra={**extra, "error": str(err)})
            await message.reject(requeue=False)
            return Outcome.DEAD_LETTERED
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            if database_unavailable(err) and delivery.deferrals < self.settings.max_deferrals:
                logger.warning(
                    "database unavailable, message deferred",
                    extra={**extra, "error": error, "deferrals": delivery.deferrals + 1},
                )
                await self._defer(message, delivery)
                return Outcome.DEFERRED
            return await self._retry_or_dead_letter(message, delivery, extra)
        await message.ack()
        return outcome

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, delivery: Delivery, extra: dict[str, str]
    ) -> Outcome:
        """Called while the handling error is being handled: logged with its traceback."""
        retry = delivery.retries + 1
        if retry > self.topology.max_retries:
            logger.exception("handling failed, no retry left: dead-lettered", extra=extra)
            await message.reject(requeue=False)
            return Outcome.DEAD_LETTERED
        logger.exception(
            "handling failed, retrying",
            extra={**extra, "retry": retry, "retry_in_s": self.settings.retry_delays[retry - 1]},
        )
        await self._republish(
            message, delivery, self.topology.retry_queue(retry), retry, delivery.deferrals
        )
        await message.ack()
        return Outcome.RETRIED

    async def _defer(self, message: AbstractIncomingMessage, delivery: Delivery) -> None:
        deferral = delivery.deferrals + 1
        if self.topology.max_retries:
            # The n-th deferral waits in the n-th retry queue (the last one from then on): the
            # pause grows while the outage lasts.
            queue = self.topology.retry_queue(min(deferral, self.topology.max_retries))
            await self._republish(message, delivery, queue, delivery.retries, deferral)
            await message.ack()
        else:  # no retry queue: pause, then hand the message back to the queue
            await asyncio.sleep(jittered(2.0))
            await message.nack(requeue=True)

    async def _republish(
        self,
        message: AbstractIncomingMessage,
        delivery: Delivery,
        queue: str,
        retries: int,
        deferrals: int,
    ) -> None:
        """Publish a copy to `queue` and wait for the broker's confirm."""
        if self._channel is None:
            raise RuntimeError("not connected")
        # The broker's own x- headers (x-death, ...) are not copied; the trace context is.
        headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
        headers[RETRY_HEADER] = retries
        headers[DEFERRALS_HEADER] = deferrals
        headers[ROUTING_KEY_HEADER] = delivery.routing_key
        copy = aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=delivery.message_id,
            correlation_id=message.correlation_id,
            timestamp=message.timestamp,
            type=message.type,
            app_id=message.app_id,
        )
        # mandatory: a missing retry queue raises instead of dropping the copy.
        await self._channel.default_exchange.publish(copy, routing_key=queue, mandatory=True)
