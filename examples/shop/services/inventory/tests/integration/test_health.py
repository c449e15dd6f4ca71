from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from inventory.app import create_app
from inventory.settings import Settings

pytestmark = pytest.mark.integration


def test_readiness_does_not_wait_behind_a_saturated_pool(client: TestClient) -> None:
    state = client.app.state  # type: ignore[attr-defined]
    engine: Engine = state.engine
    settings: Settings = state.settings
    with ExitStack() as held:
        # Every connection the requests' pool may open, taken, as slow requests would.
        for _ in range(settings.db_pool_size + settings.db_max_overflow):
            held.enter_context(engine.connect())
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed < 1.0, f"/readyz waited {elapsed:.1f} s for a connection"


def test_a_burst_larger_than_the_pool_and_the_workers_is_served_without_waiting_for_a_timeout(
    settings: Settings, migrated: None
) -> None:
    # One connection, two worker threads and a pool timeout of 3 s: twelve requests at once. If
    # requests waited for a connection inside worker threads, the one holding the connection
    # would find no worker left to finish on, and the others would get 503 after 3 s.
    small = dataclasses.replace(
        settings, metrics_port=0, db_pool_size=1, db_max_overflow=0, db_pool_timeout=3.0
    )
    with TestClient(create_app(small)) as client:
        client.portal.call(limit_worker_threads, 2)  # type: ignore[union-attr]
        with ThreadPoolExecutor(max_workers=12) as callers:
            statuses = list(
                callers.map(lambda _: client.get("/items?limit=5").status_code, range(12))
            )

    assert statuses == [200] * 12


def limit_worker_threads(tokens: int) -> None:
    anyio.to_thread.current_default_thread_limiter().total_tokens = tokens
