"""The worker's small HTTP server on METRICS_PORT (9000): /metrics, /livez and /readyz.

It runs in the worker's own event loop, so a loop blocked by a handler also stops the probes
from answering, and Kubernetes sees it.
- /livez: 200 while the consumer is alive (also while it waits for the broker: a restart would
  not bring the broker back), 503 once it has failed for good.
- /readyz: 200 when the broker connection and the database both answer, 503 otherwise and while
  shutting down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

logger = logging.getLogger(__name__)
SERVER = "worker"  # the Server header: what it is, not which versions of what


@dataclass(frozen=True)
class Probes:
    alive: Callable[[], bool]
    # Name -> check; each returns True when that dependency answers.
    readiness: dict[str, Callable[[], Awaitable[bool]]]
    timeout: float = 3.0


async def _check(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            return await check()
    except Exception:  # any failure of a check means "not ready"
        return False


def make_app(probes: Probes) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def livez(_: web.Request) -> web.Response:
        if probes.alive():
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "failed"}, status=503)

    async def readyz(_: web.Request) -> web.Response:
        names = list(probes.readiness)
        results = await asyncio.gather(
            *(_check(probes.readiness[name], probes.timeout) for name in names)
        )
        checks = {
            name: "ok" if ok else "unavailable" for name, ok in zip(names, results, strict=True)
        }
        if all(results):
            return web.json_response({"status": "ok", "checks": checks})
        logger.warning("not ready", extra={"checks": checks})
        return web.json_response({"status": "unavailable", "checks": checks}, status=503)

    async def plain_server_header(_: web.Request, response: web.StreamResponse) -> None:
        # aiohttp would send "Python/3.x aiohttp/3.x": versions are nobody's business here.
        response.headers["Server"] = SERVER

    app = web.Application()
    app.on_response_prepare.append(plain_server_header)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    return app


async def start_server(probes: Probes, host: str, port: int) -> web.AppRunner:
    """Serve in the running loop; stop with `await runner.cleanup()`."""
    runner = web.AppRunner(make_app(probes), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
