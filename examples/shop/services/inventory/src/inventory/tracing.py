"""OpenTelemetry traces and logs, configured only by the standard OTEL_* environment variables.

- OTEL_SDK_DISABLED=true: no SDK, no instrumentation.
- OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource (service.name defaults to this
  service's name when neither sets it).
- OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: the sampler (default parentbased_always_on).
- OTEL_TRACES_EXPORTER: comma-separated `otlp` (default, OTLP over HTTP/protobuf, endpoint from
  OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), `console`, or `none`.
  OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL may only be `http/protobuf`: the gRPC exporter is not
  installed.
- OTEL_LOGS_EXPORTER: `otlp` sends every log record (with the trace and span ids of its span) to
  the collector as well (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_LOGS_ENDPOINT), which
  stores them in the ecosystem's log store; `none` (the default here: the JSON lines on stdout are
  always written, and a cluster may collect those instead) sends nothing.
- OTEL_PROPAGATORS: incoming context extraction (default tracecontext,baggage: W3C traceparent).
- OTEL_PYTHON_FASTAPI_EXCLUDED_URLS: paths not traced (default: the probes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)

DEFAULT_EXCLUDED_URLS = "livez,readyz"

# The SDK allows one global tracer provider per process; app factories called again (tests,
# reloads) reuse it.
_provider: TracerProvider | None = None
_log_provider: LoggerProvider | None = None
_log_handler: logging.Handler | None = None


def sdk_disabled(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def exporter_names(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    raw = env.get("OTEL_TRACES_EXPORTER", "") or "otlp"
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - {"otlp", "console", "none"})
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter(s) {', '.join(unknown)}")
    return names


def log_exporter_names(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    raw = env.get("OTEL_LOGS_EXPORTER", "") or "none"
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - {"otlp", "none"})
    if unknown:
        raise ValueError(f"OTEL_LOGS_EXPORTER: unsupported exporter(s) {', '.join(unknown)}")
    return names


def check_otlp_protocol(environ: Mapping[str, str] | None = None, signal: str = "TRACES") -> None:
    env = os.environ if environ is None else environ
    for name in (f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise ValueError(f"{name}={protocol}: only http/protobuf is supported (port 4318)")


def _one_line_json(span: ReadableSpan) -> str:
    # One span per line, so console spans do not break the one-JSON-object-per-line stdout.
    line: str = span.to_json(indent=None)
    return line + os.linesep


def service_resource(default_service_name: str) -> Resource:
    """The resource of this process (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), named after the
    service when neither names it."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    return resource


class _NotTheExporters(logging.Filter):
    """The SDK's and exporter's own records are not exported: a failing export would log about
    itself into the queue it cannot empty."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("opentelemetry")


def configure_log_export(default_service_name: str) -> LoggerProvider | None:
    """With OTEL_LOGS_EXPORTER=otlp, a root handler that also sends every record over OTLP, with
    the trace context of its span (call after configure_logging, which resets the handlers);
    None when the SDK is disabled or logs are not exported."""
    global _log_provider, _log_handler  # noqa: PLW0603
    if sdk_disabled() or "otlp" not in log_exporter_names():
        return None
    if _log_provider is None or _log_handler is None:
        check_otlp_protocol(signal="LOGS")
        _log_provider = LoggerProvider(resource=service_resource(default_service_name))
        _log_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        set_logger_provider(_log_provider)
        _log_handler = LoggingHandler(logger_provider=_log_provider)
        _log_handler.addFilter(_NotTheExporters())
    root = logging.getLogger()
    if _log_handler not in root.handlers:
        root.addHandler(_log_handler)
    return _log_provider


def configure_tracing(default_service_name: str) -> TracerProvider | None:
    """Install the global tracer provider (once); None when the SDK is disabled."""
    global _provider  # noqa: PLW0603
    if sdk_disabled():
        return None
    if _provider is not None:
        return _provider
    provider = TracerProvider(resource=service_resource(default_service_name))
    for name in exporter_names():
        if name == "otlp":
            check_otlp_protocol()
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(
                SimpleSpanProcessor(ConsoleSpanExporter(formatter=_one_line_json))
            )
    trace.set_tracer_provider(provider)
    # Patches sqlalchemy.create_engine, so engines created from now on emit query spans.
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Server spans for every request except the excluded URLs; W3C context is extracted."""
    excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or DEFAULT_EXCLUDED_URLS
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=excluded,
        # One internal span per ASGI message (request body, response start, response body)
        # would triple the spans of every request and tell nothing the server span does not.
        exclude_spans=["receive", "send"],
    )
