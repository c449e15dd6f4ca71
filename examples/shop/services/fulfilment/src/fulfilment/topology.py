"""The queues and exchanges of the worker, declared (idempotently) at every start.

    events (topic) --[WORKER_SUBSCRIBES patterns]--> <queue> --(consumer)
                                                       |  reject: dead-letter exchange
                                                       v
    <queue>.dead (fanout) ---------------------------> <queue>.dead      (inspect, replay by hand)

    <queue>.retry.<delay>ms  (no consumer; TTL = delay) --expired--> <queue> (default exchange)

All queues are durable quorum queues (replicated in a cluster). A failed message is re-published
to the retry queue of its attempt, waits there for the queue's TTL, and comes back to the work
queue; a message that used its last retry, or cannot be handled at all, is rejected and the
broker moves it to the dead-letter queue. Queue arguments cannot change on an existing queue:
changing WORKER_RETRY_DELAYS declares new retry queues (old ones stay, empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue, FieldValue

from .settings import Settings

QUORUM: dict[str, FieldValue] = {"x-queue-type": "quorum"}


@dataclass(frozen=True)
class Topology:
    exchange: str
    queue: str
    bindings: tuple[str, ...]
    retry_delays_ms: tuple[int, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        return cls(
            exchange=settings.exchange,
            queue=settings.queue,
            bindings=settings.subscribes,
            retry_delays_ms=tuple(max(1, round(d * 1000)) for d in settings.retry_delays),
        )

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.queue}.dead"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"

    @property
    def max_retries(self) -> int:
        return len(self.retry_delays_ms)

    def retry_queue(self, retry: int) -> str:
        """The queue a message waits in before its `retry`-th retry (1-based)."""
        return f"{self.queue}.retry.{self.retry_delays_ms[retry - 1]}ms"


async def declare(channel: AbstractChannel, topology: Topology) -> AbstractQueue:
    """Declare everything (a no-op when it exists as declared); return the work queue."""
    exchange = await channel.declare_exchange(
        topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dead_letters = await channel.declare_exchange(
        topology.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead = await channel.declare_queue(topology.dead_letter_queue, durable=True, arguments=QUORUM)
    await dead.bind(dead_letters)
    queue = await channel.declare_queue(
        topology.queue,
        durable=True,
        arguments={**QUORUM, "x-dead-letter-exchange": topology.dead_letter_exchange},
    )
    for pattern in topology.bindings:
        await queue.bind(exchange, pattern)
    for retry in range(1, topology.max_retries + 1):
        await channel.declare_queue(
            topology.retry_queue(retry),
            durable=True,
            arguments={
                **QUORUM,
                "x-message-ttl": topology.retry_delays_ms[retry - 1],
                # Expired messages go back to the work queue through the default exchange.
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": topology.queue,
            },
        )
    return queue
