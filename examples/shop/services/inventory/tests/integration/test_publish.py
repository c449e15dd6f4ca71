from __future__ import annotations

import dataclasses
import json
import secrets
import uuid

import pytest
from fastapi.testclient import TestClient

from inventory import SERVICE_NAME
from inventory.app import create_app
from inventory.settings import Settings

from .event_queue import EventQueue

pytestmark = pytest.mark.integration


def create_item(client: TestClient) -> dict[str, object]:
    response = client.post("/items", json={"name": f"published-{uuid.uuid4().hex}"})
    assert response.status_code == 201
    body: dict[str, object] = response.json()
    return body


def test_publish_sends_the_item_with_the_trace_context(
    publishing_client: TestClient, item_events: EventQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    item = create_item(publishing_client)
    trace_id, parent_span_id = secrets.token_hex(16), secrets.token_hex(8)
    capsys.readouterr()

    response = publishing_client.post(
        f"/items/{item['id']}/publish",
        headers={"traceparent": f"00-{trace_id}-{parent_span_id}-01"},
    )

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["item_id"] == item["id"]
    assert accepted["routing_key"] == f"{SERVICE_NAME}.item.published"
    received = item_events.get()
    assert received is not None, "no message reached a queue bound to the exchange"
    assert received.routing_key == f"{SERVICE_NAME}.item.published"
    assert received.body == {"item_id": item["id"], "name": item["name"]}
    assert received.message_id == accepted["message_id"]
    assert received.content_type == "application/json"
    assert received.persistent
    version, sent_trace_id, producer_span_id, flags = received.headers["traceparent"].split("-")
    assert (version, sent_trace_id, flags) == ("00", trace_id, "01")
    assert producer_span_id != parent_span_id  # the publish span, a child of the request's
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    (published,) = [r for r in records if r["message"] == "item published"]
    assert published["trace_id"] == trace_id
    assert published["message_id"] == accepted["message_id"]


def test_each_publish_is_a_new_message(
    publishing_client: TestClient, item_events: EventQueue
) -> None:
    item = create_item(publishing_client)

    first = publishing_client.post(f"/items/{item['id']}/publish").json()
    second = publishing_client.post(f"/items/{item['id']}/publish").json()

    received = [item_events.get(), item_events.get()]
    assert first["message_id"] != second["message_id"]
    assert {r.message_id for r in received if r} == {first["message_id"], second["message_id"]}


def test_publishing_a_missing_item_is_404_and_sends_nothing(
    publishing_client: TestClient, item_events: EventQueue
) -> None:
    response = publishing_client.post("/items/999999999999/publish")

    assert response.status_code == 404
    assert item_events.get(timeout=1.0) is None


def test_unreachable_broker_is_503_and_the_service_stays_ready(
    amqp_settings: Settings, migrated: None
) -> None:
    # Nothing listens on port 1: the broker is down, the database is not.
    settings = dataclasses.replace(
        amqp_settings,
        metrics_port=0,
        amqp_url="amqp://nobody:nothing@127.0.0.1:1/",
        amqp_timeout=2.0,
    )
    with TestClient(create_app(settings)) as client:
        item = create_item(client)

        response = client.post(f"/items/{item['id']}/publish")

        assert response.status_code == 503
        assert response.json()["detail"] == "the message broker is unavailable, try again later"
        assert client.get("/readyz").status_code == 200
