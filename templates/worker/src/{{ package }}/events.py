"""What arrives on the queue: a delivery, and the example event it carries.

Routing keys are `<source service>.<event>`, e.g. `orders.item.published`: the first word names
the publisher, the rest the event, which selects the handler (handlers.HANDLERS).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from aio_pika.abc import AbstractIncomingMessage

from .models import ID_MAX_LENGTH, NAME_MAX_LENGTH

# Headers the worker sets when it sends a message back for a retry (see consumer.py).
RETRY_HEADER = "x-retry-count"
DEFERRALS_HEADER = "x-deferral-count"
ROUTING_KEY_HEADER = "x-original-routing-key"


class InvalidMessageError(ValueError):
    """A message no retry can fix: it goes to the dead-letter queue at once."""


@dataclass(frozen=True)
class Delivery:
    message_id: str
    routing_key: str
    body: bytes
    retries: int
    deferrals: int = 0

    @property
    def source(self) -> str:
        """The publishing service: the routing key's first word."""
        return self.routing_key.split(".", 1)[0]

    @property
    def event(self) -> str:
        """The event: the routing key without its first word (`item.published`)."""
        return self.routing_key.split(".", 1)[-1]

    @classmethod
    def of(
        cls,
        body: bytes,
        routing_key: str | None,
        message_id: str | None,
        headers: Mapping[str, object] | None,
    ) -> Delivery:
        headers = headers or {}
        # A retried message comes back through the retry queue, under that queue's name.
        original_key = headers.get(ROUTING_KEY_HEADER) or routing_key or ""
        retries = headers.get(RETRY_HEADER, 0)
        deferrals = headers.get(DEFERRALS_HEADER, 0)
        if not message_id or len(message_id) > ID_MAX_LENGTH:
            # Publishers of this ecosystem always set one; for others the content identifies it.
            message_id = "sha256:" + hashlib.sha256(body).hexdigest()
        return cls(
            message_id=message_id,
            routing_key=original_key if isinstance(original_key, str) else str(original_key),
            body=body,
            retries=retries if isinstance(retries, int) and retries >= 0 else 0,
            deferrals=deferrals if isinstance(deferrals, int) and deferrals >= 0 else 0,
        )

    @classmethod
    def from_message(cls, message: AbstractIncomingMessage) -> Delivery:
        return cls.of(message.body, message.routing_key, message.message_id, message.headers)


@dataclass(frozen=True)
class ItemPublished:
    """`<backend>.item.published`: {"item_id": 42, "name": "..."}."""

    item_id: int
    name: str

    @classmethod
    def from_json(cls, body: bytes) -> ItemPublished:
        try:
            data = json.loads(body)
        except ValueError as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise InvalidMessageError(f"the body is not JSON: {err}") from err
        if not isinstance(data, dict):
            raise InvalidMessageError("the body is not a JSON object")
        item_id, name = data.get("item_id"), data.get("name")
        if not isinstance(item_id, int) or isinstance(item_id, bool) or item_id < 1:
            raise InvalidMessageError(f"item_id must be a positive integer, got {item_id!r}")
        if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX_LENGTH:
            raise InvalidMessageError(f"name must be a string of 1 to {NAME_MAX_LENGTH} characters")
        return cls(item_id=item_id, name=name)
