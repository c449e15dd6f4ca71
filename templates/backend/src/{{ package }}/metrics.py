"""Prometheus metrics: request count and latency by method, route template and status.

They are served by prometheus_client on their own port (METRICS_PORT, 9000), never on the API
port. One process per container: scale with replicas, not uvicorn workers, or the metrics port
would be bound twice.

Every label has a bounded set of values, whatever clients send: a method outside HTTP's standard
ones is `_OTHER` (as OpenTelemetry's HTTP conventions name it), a path no route matches is
`unmatched`. The probes (/livez, /readyz) are not counted: the alerts on these series are about
what users get, and the kubelet's traffic would dilute them. No `_created` series.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram, disable_created_metrics, start_http_server
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .health import PROBE_PATHS

UNMATCHED_ROUTE = "unmatched"
OTHER_METHOD = "_OTHER"
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

disable_created_metrics()  # type: ignore[no-untyped-call]

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
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = ResponseStatus(send)
        try:
            await self.app(scope, receive, response)
        finally:
            route = route_template(scope)
            method = scope["method"] if scope["method"] in KNOWN_METHODS else OTHER_METHOD
            labels = {"method": method, "route": route, "status": str(response.status)}
            REQUESTS.labels(**labels).inc()
            LATENCY.labels(**labels).observe(time.perf_counter() - started)


class ResponseStatus:
    """An ASGI `send` that passes messages on and keeps the status of the response they start
    (500 until one starts: a request that raised before answering is a server error)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self.send(message)


def route_template(scope: Scope) -> str:
    """The matched route's template (/items/{item_id}): a small label set, unlike raw paths.

    FastAPI's routes put themselves in the scope; Starlette's own, which serve the OpenAPI document
    and its pages, do not, so those are matched here rather than counted as unmatched.
    """
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    for candidate in getattr(getattr(scope.get("app"), "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE


def start_metrics_server(port: int, host: str) -> Callable[[], None]:
    """Serve /metrics on host:port in a daemon thread; returns the function that stops it."""
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop
