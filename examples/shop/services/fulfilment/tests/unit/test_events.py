from __future__ import annotations

import hashlib
import json

import pytest

from fulfilment.events import (
    RETRY_HEADER,
    ROUTING_KEY_HEADER,
    Delivery,
    InvalidMessageError,
    ItemPublished,
)

pytestmark = pytest.mark.unit


def test_a_delivery_names_its_source_and_event() -> None:
    delivery = Delivery.of(b"{}", "orders.item.published", "m-1", None)

    assert delivery.message_id == "m-1"
    assert delivery.source == "orders"
    assert delivery.event == "item.published"
    assert delivery.retries == 0


def test_a_retried_delivery_keeps_its_routing_key_and_counts_its_retries() -> None:
    headers = {ROUTING_KEY_HEADER: "orders.item.published", RETRY_HEADER: 2}

    delivery = Delivery.of(b"{}", "audit", "m-1", headers)

    assert delivery.routing_key == "orders.item.published"
    assert delivery.retries == 2


@pytest.mark.parametrize("message_id", [None, "", "x" * 256])
def test_without_a_usable_message_id_the_content_identifies_the_message(
    message_id: str | None,
) -> None:
    body = b'{"item_id": 1, "name": "a"}'

    delivery = Delivery.of(body, "orders.item.published", message_id, None)

    assert delivery.message_id == "sha256:" + hashlib.sha256(body).hexdigest()


def test_an_item_published_event() -> None:
    event = ItemPublished.from_json(json.dumps({"item_id": 42, "name": "first"}).encode())

    assert event == ItemPublished(item_id=42, name="first")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"name": "no id"}',
        b'{"item_id": "42", "name": "a"}',
        b'{"item_id": true, "name": "a"}',
        b'{"item_id": 0, "name": "a"}',
        b'{"item_id": 1}',
        b'{"item_id": 1, "name": ""}',
        json.dumps({"item_id": 1, "name": "x" * 201}).encode(),
    ],
)
def test_invalid_bodies_cannot_be_retried(body: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        ItemPublished.from_json(body)
