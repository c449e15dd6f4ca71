"""One error contract: every error this API answers is an RFC 9457 problem
(`application/problem+json`) carrying the request's trace id, and the OpenAPI document declares it,
so the typed client knows it.

- HTTPException (404, 409, 503 while publishing is impossible, ...): its status and detail;
- the database cannot be reached (database.database_unavailable): 503, with Retry-After;
- anything else: 500, logged with its traceback (the body says nothing about the cause).

Request validation stays FastAPI's 422 `{"detail": [...]}` (declared by FastAPI itself): clients
and FastAPI's own tooling know that shape, and it lists every invalid field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from .database import database_unavailable

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 5
UNEXPECTED = "an unexpected error occurred"
_SCHEMA_REF_TEMPLATE = "#/components/schemas/{model}"
_SCHEMA_REF = _SCHEMA_REF_TEMPLATE.format(model="Problem")


class Problem(BaseModel):
    """RFC 9457 problem details, with the trace id that finds the request in traces and logs."""

    type: str = Field(default="about:blank", description="about:blank: the status says it all")
    title: str = Field(description="The HTTP status phrase")
    status: int
    detail: str | None = Field(default=None, description="What happened, for a person")
    instance: str | None = Field(default=None, description="The request's path")
    trace_id: str | None = Field(default=None, description="W3C trace id of the request")


def problem_responses(*statuses: int, description: str | None = None) -> dict[int | str, Any]:
    """OpenAPI `responses` entries declaring a Problem body for each status."""
    return {
        status: {
            "description": description or HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": _SCHEMA_REF}}},
        }
        for status in statuses
    }


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def problem(
    request: Request, status: int, detail: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        trace_id=_trace_id(),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):  # registered for HTTPException only
        raise error
    return problem(request, error.status_code, error.detail, dict(error.headers or {}))


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    if database_unavailable(error):
        logger.warning("database unavailable", extra={"error": f"{type(error).__name__}: {error}"})
        return problem(
            request,
            503,
            "the database is unavailable, try again later",
            {"Retry-After": str(RETRY_AFTER_S)},
        )
    logger.error("database error", exc_info=error, extra={"path": request.url.path})
    return problem(request, 500, UNEXPECTED)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # Starlette's ServerErrorMiddleware calls this, sends the answer, then re-raises the error,
    # which uvicorn logs with its traceback (and the trace id).
    return problem(request, 500, UNEXPECTED)


def install(app: FastAPI) -> None:
    """Answer every error as a Problem, and put the Problem schema in the OpenAPI document."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _unexpected)

    document: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = document()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema(ref_template=_SCHEMA_REF_TEMPLATE)
        return app.openapi_schema or document()

    app.openapi = openapi  # type: ignore[method-assign]
