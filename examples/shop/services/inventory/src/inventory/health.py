"""Probes: /livez says the process serves requests, /readyz that it can reach its database."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response, status
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from .schemas import Status

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/livez")
def livez() -> Status:
    # No dependency is checked: a restart would not fix a database outage.
    return Status(status="ok")


@router.get("/readyz", responses={503: {"model": Status}})
def readyz(request: Request, response: Response) -> Status:
    engine: Engine = request.app.state.engine
    try:
        # Probes are not traced (OTEL_PYTHON_FASTAPI_EXCLUDED_URLS); neither is their query,
        # or every probe would start a trace of its own.
        with suppress_instrumentation(), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        logger.warning("database unreachable", extra={"error": type(err).__name__})
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Status(status="unavailable")
    return Status(status="ok")
