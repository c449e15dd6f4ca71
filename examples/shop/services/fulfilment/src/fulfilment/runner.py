"""The worker process: `python -m <package>`.

Start-up: logging and tracing, the HTTP server (probes and metrics, before anything can fail),
then the broker, retried until it answers. SIGTERM or SIGINT: stop consuming, finish the
messages in hand, acknowledge them, close, exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping

from aiohttp import web
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy.ext.asyncio import AsyncEngine

from . import SERVICE_NAME
from .consumer import Consumer
from .database import SCHEMA, SchemaState, schema_state
from .db import make_async_engine, make_probe_engine, make_sessionmaker
from .handlers import HANDLERS, Handler
from .logs import configure_logging
from .server import Probes, start_server
from .settings import Settings, SettingsError
from .tracing import configure_log_export, configure_tracing

logger = logging.getLogger(__name__)
EXIT_CONFIGURATION = 2
EXIT_FAILED = 1


class Worker:
    """The consumer, its database and its HTTP server, started and stopped together."""

    def __init__(self, settings: Settings, handlers: Mapping[str, Handler] = HANDLERS) -> None:
        self.settings = settings
        self.engine: AsyncEngine = make_async_engine(
            settings.database_url,
            settings.db_pool_size,
            settings.db_connect_timeout,
            settings.db_pool_timeout,
        )
        self.probe_engine = make_probe_engine(settings.database_url, settings.db_connect_timeout)
        self.consumer = Consumer(settings, make_sessionmaker(self.engine), handlers)
        self.stop_requested = asyncio.Event()
        self.failed = False
        self._server: web.AppRunner | None = None

    def probes(self) -> Probes:
        return Probes(
            alive=lambda: not self.failed,
            readiness={
                "broker": self._broker_ready,
                "database": self._database_ready,
            },
            timeout=float(self.settings.db_connect_timeout + 1),
        )

    async def _broker_ready(self) -> bool:
        return self.consumer.connected and not self.stop_requested.is_set()

    async def _database_ready(self) -> bool:
        """The database answers on the probe's own connection, its schema at this code's head."""
        # Probes are not traced: every probe would otherwise start a trace of its own.
        with suppress_instrumentation():
            async with self.probe_engine.connect() as connection:
                state = await connection.run_sync(schema_state)
        if state is not SchemaState.CURRENT:
            logger.warning("the database schema is behind this release", extra={"schema": SCHEMA})
        return state is SchemaState.CURRENT

    async def run(self) -> int:
        """Until stop() (or a signal): the exit status."""
        try:
            if self.settings.metrics_port:
                self._server = await start_server(
                    self.probes(), self.settings.metrics_host, self.settings.metrics_port
                )
                logger.info("probes and metrics served", extra={"port": self.settings.metrics_port})
            if await self.consumer.start(self.stop_requested):
                await self.stop_requested.wait()
            logger.info("stopping")
            left = await self.consumer.stop(self.settings.shutdown_timeout)
            logger.info("stopped", extra={"unfinished": left})
            return 0
        except Exception:
            self.failed = True
            logger.exception("the worker failed")
            return EXIT_FAILED
        finally:
            if self._server is not None:
                await self._server.cleanup()
            await self.engine.dispose()
            await self.probe_engine.dispose()

    def stop(self) -> None:
        self.stop_requested.set()


async def serve(settings: Settings) -> int:
    worker = Worker(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    return await worker.run()


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        configure_logging()
        logger.error("invalid configuration", extra={"error": str(err)})
        return EXIT_CONFIGURATION
    configure_logging(settings.log_level)
    provider = configure_tracing(default_service_name=SERVICE_NAME)
    log_provider = configure_log_export(default_service_name=SERVICE_NAME)
    try:
        return asyncio.run(serve(settings))
    finally:
        if provider is not None:
            provider.shutdown()  # flushes the spans still in the batch
        if log_provider is not None:
            log_provider.shutdown()  # and the log records
