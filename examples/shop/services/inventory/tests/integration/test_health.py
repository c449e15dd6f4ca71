from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

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
