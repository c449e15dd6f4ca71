from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from fulfilment.metrics import IN_FLIGHT
from fulfilment.server import SERVER, Probes, start_server

pytestmark = pytest.mark.unit

Check = Callable[[], Awaitable[bool]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answering(result: bool) -> Check:
    async def check() -> bool:
        return result

    return check


async def refused() -> bool:
    raise ConnectionError("refused")


async def hanging() -> bool:
    await asyncio.Event().wait()
    return True


@contextlib.asynccontextmanager
async def serve(probes: Probes) -> AsyncIterator[str]:
    port = free_port()
    runner = await start_server(probes, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def fetch(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_no_versions_in_the_server_header() -> None:
    probes = Probes(alive=lambda: True, readiness={})
    async with serve(probes) as base, aiohttp.ClientSession() as session:
        for path in ("/livez", "/readyz", "/metrics", "/no-such-path"):
            async with session.get(f"{base}{path}") as response:
                assert response.headers["Server"] == SERVER, path


async def test_live_and_ready_when_every_check_answers() -> None:
    probes = Probes(alive=lambda: True, readiness={"broker": answering(True)})
    async with serve(probes) as base:
        assert (await fetch(f"{base}/livez"))[0] == 200
        status, content_type, body = await fetch(f"{base}/readyz")

    assert status == 200
    assert content_type.startswith("application/json")
    assert '"broker": "ok"' in body


@pytest.mark.parametrize(
    "failing", [answering(False), refused, hanging], ids=["no", "error", "hangs"]
)
async def test_not_ready_when_a_check_fails_errs_or_hangs(failing: Check) -> None:
    probes = Probes(
        alive=lambda: True,
        readiness={"broker": answering(True), "database": failing},
        timeout=0.2,
    )
    async with serve(probes) as base:
        status, _, body = await fetch(f"{base}/readyz")
        live, _, _ = await fetch(f"{base}/livez")

    assert status == 503
    assert '"database": "unavailable"' in body
    assert '"broker": "ok"' in body
    assert live == 200, "a dependency being down is no reason to restart the worker"


async def test_not_live_once_failed() -> None:
    async with serve(Probes(alive=lambda: False, readiness={})) as base:
        status, _, body = await fetch(f"{base}/livez")

    assert status == 503
    assert '"failed"' in body


async def test_prometheus_metrics() -> None:
    IN_FLIGHT.inc()
    try:
        async with serve(Probes(alive=lambda: True, readiness={})) as base:
            status, content_type, body = await fetch(f"{base}/metrics")
    finally:
        IN_FLIGHT.dec()

    assert status == 200
    assert content_type.startswith("text/plain")
    assert "worker_messages_in_flight 1.0" in body.splitlines()
    assert "# TYPE worker_message_handling_seconds histogram" in body
    assert "# TYPE worker_messages_processed_total counter" in body
    assert "# TYPE worker_messages_failed_total counter" in body
