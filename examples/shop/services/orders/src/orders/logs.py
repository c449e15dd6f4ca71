"""JSON logging: one object per line on stdout, with the service, its environment and the current
trace and span ids (so lines from every service can be searched together by trace id).

uvicorn's own loggers are routed through the same handler, so access and error logs share the
format and can be correlated with traces.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME as SERVICE_NAME_ATTRIBUTE
from opentelemetry.sdk.resources import Resource

from . import SERVICE_NAME

# Attributes every LogRecord has; anything else on a record came from `extra=` and is emitted.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}
_UVICORN_ACCESS_FIELDS = ("client_addr", "method", "path", "http_version", "status_code")


def service_fields() -> dict[str, str]:
    """`service` and `environment` of every line, from the same variables as the telemetry's
    resource (OTEL_SERVICE_NAME, deployment.environment.name in OTEL_RESOURCE_ATTRIBUTES)."""
    attributes = Resource.create().attributes
    service = str(attributes.get(SERVICE_NAME_ATTRIBUTE, ""))
    fields = {"service": SERVICE_NAME if service.startswith("unknown_service") else service}
    environment = attributes.get("deployment.environment.name")
    if environment:
        fields["environment"] = str(environment)
    return fields


class JsonFormatter(logging.Formatter):
    def __init__(self, fields: dict[str, str] | None = None) -> None:
        super().__init__()
        self.fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **self.fields,
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            payload["trace_id"] = trace.format_trace_id(span_context.trace_id)
            payload["span_id"] = trace.format_span_id(span_context.span_id)
        if (
            record.name == "uvicorn.access"
            and isinstance(record.args, tuple)
            and len(record.args) == len(_UVICORN_ACCESS_FIELDS)
        ):
            payload.update(zip(_UVICORN_ACCESS_FIELDS, record.args, strict=True))
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class StdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stdout` is at emit time (test capture and redirection follow)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str = "INFO") -> None:
    """Send every log record, uvicorn's included, through one JSON handler on stdout."""
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter(service_fields()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    # uvicorn --no-access-log leaves the logger without handlers and not propagating: keep it so.
    if access.handlers or access.propagate:
        access.handlers.clear()
        access.propagate = True
