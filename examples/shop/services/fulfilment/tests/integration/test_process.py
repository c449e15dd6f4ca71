"""The worker as its container runs it, `python -m fulfilment`: signals and a hard kill.

A test holds a lock on the handler's table, so the worker is certainly in the middle of a
message when the signal arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from fulfilment.runner import Worker
from fulfilment.settings import Settings

from .helpers import Broker, Database, eventually, running

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def worker_process(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "DATABASE_URL": settings.database_url,
        "AMQP_URL": settings.amqp_url,
        "AMQP_EXCHANGE": settings.exchange,
        "WORKER_QUEUE": settings.queue,
        "WORKER_SUBSCRIBES": ",".join(settings.subscribes),
        "WORKER_RETRY_DELAYS": ",".join(str(d) for d in settings.retry_delays),
        "METRICS_PORT": "0",
        "OTEL_TRACES_EXPORTER": "none",
    }
    env.pop("DATABASE_URL_FILE", None)
    env.pop("AMQP_URL_FILE", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fulfilment"], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


@contextlib.asynccontextmanager
async def table_locked(database: Database) -> AsyncIterator[AsyncConnection]:
    """published_items locked until the block ends: the handler waits on it."""
    async with database.engine.connect() as connection:
        await connection.execute(text("LOCK TABLE published_items IN ACCESS EXCLUSIVE MODE"))
        yield connection
        await connection.rollback()


async def waiting_on_the_lock(database: Database) -> bool:
    waiting = await database.scalar(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'published_items'::regclass"
    )
    return bool(waiting)


async def test_sigterm_finishes_the_message_in_hand_and_exits_0(
    worker_settings: Settings, broker: Broker, database: Database, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with worker_process(worker_settings, log) as process:
        await eventually(lambda: has_consumer(broker, worker_settings.queue), "the worker")
        async with table_locked(database):
            message_id = await broker.publish({"item_id": 7, "name": "in hand"})
            await eventually(lambda: waiting_on_the_lock(database), "the handler to block")
            process.send_signal(signal.SIGTERM)
            await eventually(lambda: logged(log, "finishing the messages in hand"), "the stop")
        status = await asyncio.to_thread(process.wait, 30)

    assert status == 0, log.read_text()
    assert await database.processed(message_id) == 1
    assert await broker.ready(worker_settings.queue) == 0
    assert '"message": "stopped"' in log.read_text()


async def test_a_killed_worker_loses_nothing(
    worker_settings: Settings, broker: Broker, database: Database, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with worker_process(worker_settings, log) as process:
        await eventually(lambda: has_consumer(broker, worker_settings.queue), "the worker")
        async with table_locked(database):
            message_id = await broker.publish({"item_id": 8, "name": "orphaned"})
            await eventually(lambda: waiting_on_the_lock(database), "the handler to block")
            process.kill()
            await asyncio.to_thread(process.wait, 30)
        await eventually(lambda: no_consumer(broker, worker_settings.queue), "the broker to notice")

    assert await database.processed(message_id) == 0, "its transaction died with it"
    assert await broker.ready(worker_settings.queue) == 1, "back in the queue"
    async with running(Worker(worker_settings)):
        await eventually(lambda: handled(database, message_id), "the redelivery")
    assert await database.times_published(worker_settings.queue, 8) == 1


async def has_consumer(broker: Broker, queue: str) -> bool:
    with contextlib.suppress(Exception):
        return await broker.consumers(queue) == 1
    return False


async def logged(log: Path, message: str) -> bool:
    return f'"message": "{message}"' in log.read_text()


async def no_consumer(broker: Broker, queue: str) -> bool:
    return await broker.consumers(queue) == 0


async def handled(database: Database, message_id: str) -> bool:
    return await database.processed(message_id) == 1
