"""Prometheus metrics: request count and latency by route template and status.

They are served by prometheus_client on their own port (METRICS_PORT, 9000), never on the API
port. One process per container: scale with replicas, not uvicorn workers, or the metrics port
would be bound twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "http_requests",
    "HTTP requests handled, by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to handle an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
)


class PrometheusMiddleware:
    """Pure ASGI middleware (no response buffering) recording REQUESTS and LATENCY."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The router stores the matched route in the scope; its template (/items/{item_id})
            # keeps the label set small, unlike the raw path.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            labels = {"method": scope["method"], "route": route, "status": str(status)}
            REQUESTS.labels(**labels).inc()
            LATENCY.labels(**labels).observe(time.perf_counter() - started)


def start_metrics_server(port: int, host: str) -> Callable[[], None]:
    """Serve /metrics on host:port in a daemon thread; returns the function that stops it."""
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop
