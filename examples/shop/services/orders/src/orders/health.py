"""Probes: /livez says the process serves requests, /readyz that its database answers and holds
the schema this code expects. Neither is counted in the request metrics nor traced."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response, status
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from .database import SCHEMA, SchemaState, schema_state
from .schemas import Status

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
PROBE_PATHS = frozenset({"/livez", "/readyz"})


@router.get("/livez")
def livez() -> Status:
    # No dependency is checked: a restart would not fix a database outage.
    return Status(status="ok")


@router.get("/readyz", responses={503: {"model": Status}})
def readyz(request: Request, response: Response) -> Status:
    # The probe's own connection (app.state.probe_engine): a pool saturated by requests does not
    # hold it up. Probes are not traced (OTEL_PYTHON_FASTAPI_EXCLUDED_URLS); neither is their
    # query, or every probe would start a trace of its own.
    engine: Engine = request.app.state.probe_engine
    try:
        with suppress_instrumentation(), engine.connect() as connection:
            state = schema_state(connection)
    except SQLAlchemyError as err:
        logger.warning("database unreachable", extra={"error": type(err).__name__})
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Status(status="unavailable")
    if state is not SchemaState.CURRENT:
        # A release whose migrations have not run: serving would fail on missing tables.
        logger.warning("the database schema is behind this release", extra={"schema": SCHEMA})
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Status(status="schema behind")
    return Status(status="ok")
