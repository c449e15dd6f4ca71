"""OpenTelemetry tracing, configured only by the standard OTEL_* environment variables.

- OTEL_SDK_DISABLED=true: no SDK, no instrumentation.
- OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource (service.name defaults to this
  service's name when neither sets it).
- OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: the sampler (default parentbased_always_on).
- OTEL_TRACES_EXPORTER: comma-separated `otlp` (default, OTLP over HTTP/protobuf, endpoint from
  OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), `console`, or `none`.
  OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL may only be `http/protobuf`: the gRPC exporter is not
  installed.
- OTEL_PROPAGATORS: incoming context extraction (default tracecontext,baggage: W3C traceparent).
- OTEL_PYTHON_FASTAPI_EXCLUDED_URLS: paths not traced (default: the probes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
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


def check_otlp_protocol(environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise ValueError(f"{name}={protocol}: only http/protobuf is supported (port 4318)")


def _one_line_json(span: ReadableSpan) -> str:
    # One span per line, so console spans do not break the one-JSON-object-per-line stdout.
    line: str = span.to_json(indent=None)
    return line + os.linesep


def configure_tracing(default_service_name: str) -> TracerProvider | None:
    """Install the global tracer provider (once); None when the SDK is disabled."""
    global _provider  # noqa: PLW0603
    if sdk_disabled():
        return None
    if _provider is not None:
        return _provider
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    provider = TracerProvider(resource=resource)
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
