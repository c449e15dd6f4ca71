from __future__ import annotations

import dataclasses

import pytest

from fulfilment.settings import Settings
from fulfilment.topology import Topology

pytestmark = pytest.mark.unit

SETTINGS = Settings(
    database_url="postgresql+psycopg://u:p@db/app",
    amqp_url="amqp://u:p@mq/",
    exchange="events",
    queue="audit",
    subscribes=("orders.item.published", "inventory.#"),
    retry_delays=(0.25, 5.0, 60.0),
)


def test_names_derive_from_the_queue() -> None:
    topology = Topology.from_settings(SETTINGS)

    assert topology.exchange == "events"
    assert topology.queue == "audit"
    assert topology.bindings == ("orders.item.published", "inventory.#")
    assert topology.dead_letter_exchange == "audit.dead"
    assert topology.dead_letter_queue == "audit.dead"


def test_one_retry_queue_per_delay_named_after_it() -> None:
    topology = Topology.from_settings(SETTINGS)

    assert topology.max_retries == 3
    assert [topology.retry_queue(n) for n in (1, 2, 3)] == [
        "audit.retry.250ms",
        "audit.retry.5000ms",
        "audit.retry.60000ms",
    ]


def test_no_delays_no_retries() -> None:
    topology = Topology.from_settings(dataclasses.replace(SETTINGS, retry_delays=()))

    assert topology.max_retries == 0
    with pytest.raises(IndexError):
        topology.retry_queue(1)
