"""Publish one event: `python -m fulfilment.publish ROUTING_KEY 'JSON' [--message-id ID]`.

For trying the worker locally, and for sending a dead-lettered message again once its cause is
fixed. It reads AMQP_URL (or AMQP_URL_FILE) and AMQP_EXCHANGE like the worker, publishes a
persistent JSON message with the current trace context, waits for the broker's confirm and
prints the message id. Example:

    python -m fulfilment.publish orders.item.published '{"item_id": 1, "name": "first"}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import aio_pika

from . import SERVICE_NAME
from .env import SettingsError, check_amqp_url, read_secret
from .propagation import inject_headers


async def publish(url: str, exchange: str, routing_key: str, body: bytes, message_id: str) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            timestamp=datetime.now(UTC),
            app_id=SERVICE_NAME,
            headers=inject_headers(),
        )
        await target.publish(message, routing_key=routing_key)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fulfilment.publish", description=__doc__)
    parser.add_argument("routing_key", help="e.g. orders.item.published")
    parser.add_argument("payload", help="the message body, a JSON document")
    parser.add_argument("--message-id", default=None, help="default: a new random id")
    args = parser.parse_args(argv)
    try:
        body = json.dumps(json.loads(args.payload)).encode()
        url = read_secret(os.environ, "AMQP_URL")
        if not url:
            raise SettingsError("AMQP_URL (or AMQP_URL_FILE) must be set")
        check_amqp_url(url)
    except (ValueError, SettingsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    message_id = args.message_id or uuid.uuid4().hex
    exchange = os.environ.get("AMQP_EXCHANGE") or "events"
    asyncio.run(publish(url, exchange, args.routing_key, body, message_id))
    print(message_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
