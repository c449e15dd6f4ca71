"""What operators see: the trace continued from the publisher, JSON logs, probes and metrics."""

from __future__ import annotations

import dataclasses
import json
import secrets
import socket

import aiohttp
import pytest

from fulfilment.runner import Worker
from fulfilment.settings import Settings

from .helpers import Broker, Database, eventually, running

pytestmark = pytest.mark.integration


async def test_the_consumer_span_continues_the_publisher_s_trace_in_the_logs(
    worker_settings: Settings,
    broker: Broker,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trace_id, publisher_span = secrets.token_hex(16), secrets.token_hex(8)
    capsys.readouterr()

    async with running(Worker(worker_settings)):
        message_id = await broker.publish(
            {"item_id": 11, "name": "traced"},
            headers={"traceparent": f"00-{trace_id}-{publisher_span}-01"},
        )
        await eventually(lambda: handled(database, message_id), "the message to be handled")

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    mine = [r for r in records if r.get("message_id") == message_id or r.get("item_id") == 11]
    (done,) = [r for r in mine if r["message"] == "message handled"]
    (recorded,) = [r for r in mine if r["message"] == "item recorded"]
    assert done["trace_id"] == recorded["trace_id"] == trace_id
    assert done["span_id"] != publisher_span
    assert done["outcome"] == "handled"
    assert done["routing_key"] == f"{worker_settings.queue}.item.published"
    assert isinstance(done["duration_ms"], float)


async def handled(database: Database, message_id: str) -> bool:
    return await database.processed(message_id) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_probes_follow_the_broker_and_the_database(
    worker_settings: Settings, broker: Broker
) -> None:
    port = free_port()
    settings = dataclasses.replace(worker_settings, metrics_port=port, metrics_host="127.0.0.1")
    base = f"http://127.0.0.1:{port}"

    async with running(Worker(settings)):
        live, _ = await get(f"{base}/livez")
        ready, body = await get(f"{base}/readyz")
        _, metrics = await get(f"{base}/metrics")

    assert (live, ready) == (200, 200)
    assert json.loads(body) == {"status": "ok", "checks": {"broker": "ok", "database": "ok"}}
    assert "worker_messages_in_flight 0.0" in metrics.splitlines()

    no_database = dataclasses.replace(
        settings,
        database_url="postgresql+psycopg://nobody:none@127.0.0.1:1/none",
        db_connect_timeout=1,
    )
    async with running(Worker(no_database)):
        ready, body = await get(f"{base}/readyz")
        live, _ = await get(f"{base}/livez")

    assert (ready, live) == (503, 200)
    assert json.loads(body)["checks"] == {"broker": "ok", "database": "unavailable"}
