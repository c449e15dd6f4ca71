from __future__ import annotations

import asyncio
import json

import pytest

from fulfilment.publish import main
from fulfilment.settings import Settings

from .helpers import Broker

pytestmark = pytest.mark.integration


async def test_the_publish_command_sends_a_persistent_json_message(
    worker_settings: Settings,
    broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    channel = await broker.channel()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(worker_settings.exchange, "*.item.published")
    monkeypatch.setenv("AMQP_URL", worker_settings.amqp_url)
    monkeypatch.setenv("AMQP_EXCHANGE", worker_settings.exchange)

    status = await asyncio.to_thread(
        main, ["orders.item.published", '{"item_id": 5, "name": "by hand"}', "--message-id", "m-5"]
    )

    assert status == 0
    assert capsys.readouterr().out.strip() == "m-5"
    message = await probe.get(timeout=10)
    await message.ack()
    assert message.routing_key == "orders.item.published"
    assert message.message_id == "m-5"
    assert json.loads(message.body) == {"item_id": 5, "name": "by hand"}
    assert message.delivery_mode == 2
