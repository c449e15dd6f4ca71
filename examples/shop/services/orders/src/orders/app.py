"""Application factory: `uvicorn --factory orders.app:create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from . import SERVICE_NAME, __version__, auth, docs, health, items, problems
from .db import make_database_slots, make_engine, make_probe_engine, make_sessionmaker
from .events import EventPublisher
from .logs import configure_logging
from .metrics import PrometheusMiddleware, start_metrics_server
from .root_path import RootPath
from .settings import Settings
from .tokens import TokenVerifier
from .tracing import configure_log_export, configure_tracing, instrument_app

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    """The API; `token_verifier` replaces the one settings.auth makes (tests bring their keys)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    provider = configure_tracing(default_service_name=SERVICE_NAME)
    configure_log_export(default_service_name=SERVICE_NAME)
    engine = make_engine(settings)
    probe_engine = make_probe_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Made in the serving event loop; it connects on first use (readiness never waits on it).
        publisher = (
            EventPublisher(settings.amqp_url, settings.amqp_exchange, settings.amqp_timeout)
            if settings.amqp_url
            else None
        )
        app.state.publisher = publisher
        stop_metrics = None
        if settings.metrics_port:
            stop_metrics = start_metrics_server(settings.metrics_port, settings.metrics_host)
            logger.info("metrics served", extra={"metrics_port": settings.metrics_port})
        try:
            yield
        finally:
            if stop_metrics is not None:
                stop_metrics()
            if publisher is not None:
                await publisher.close()
            engine.dispose()
            probe_engine.dispose()

    app = FastAPI(
        title=SERVICE_NAME,
        version=__version__,
        lifespan=lifespan,
        # /docs is docs.py's (Swagger UI served by this service, no CDN); no ReDoc page.
        docs_url=None,
        redoc_url=None,
        # Tracing is tracing.ServerSpans' (instrument_app): FastAPI's own telemetry would be a
        # second layer on every request, and it computes a span's attributes before the
        # sampler has decided whether anything is recorded.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.probe_engine = probe_engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.database_slots = make_database_slots(settings)
    app.state.publisher = None  # set by the lifespan
    app.state.token_verifier = token_verifier or (
        TokenVerifier(settings.auth) if settings.auth else None
    )
    problems.install(app)
    app.add_middleware(PrometheusMiddleware)
    if settings.root_path:
        app.add_middleware(RootPath, root_path=settings.root_path)
    app.include_router(health.router)
    docs.install(app)
    app.include_router(
        items.router, dependencies=[Depends(auth.require_token)], responses=auth.RESPONSES
    )
    if provider is not None:
        instrument_app(app, provider)
    return app
