"""Connecting to RabbitMQ with a robust connection that never outlives a failed first attempt.

aio_pika.connect_robust() leaves the connection it made reconnecting in the background when the
first attempt fails, and raises: each failed attempt would leak a connection that keeps dialling
the broker (and may later hold a channel nobody uses). Here a failed attempt closes it.
"""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.connection import make_url
from pamqp.common import FieldTable


async def connect_robust(
    url: str, timeout: float, client_properties: FieldTable | None = None
) -> AbstractRobustConnection:
    """A robust connection (restored, with its channels, after a loss), or the error of the
    first attempt with nothing left behind."""
    connection = aio_pika.RobustConnection(make_url(url), client_properties=client_properties or {})
    try:
        await connection.connect(timeout=timeout)
    except BaseException:
        await connection.close()
        raise
    return connection
