"""OpenTelemetry traces and logs, configured only by the standard OTEL_* environment variables.

- OTEL_SDK_DISABLED=true: no SDK, no instrumentation.
- OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource (service.name defaults to this
  service's name when neither sets it).
- OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: which traces are sampled (default
  parentbased_always_on; the chart sets each environment's: 100% in test, a ratio in production).
  A request the sampler leaves out is not recorded: its span carries the trace context only (log
  lines and the next services still get the trace id), and instrumentation is suppressed inside
  it, so it costs next to nothing. Should it fail (a 5xx answer or an exception), UnsampledErrors
  exports its server span afterwards, with the same trace and span ids, the time the request
  reached the app, its route, status and exception: no failing request is lost to sampling (its
  queries' spans are; docs/templates.md). `*always_off` samplers turn tracing off entirely.
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
import time
import traceback
from collections.abc import Mapping

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import asgi_getter, collect_request_attributes
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Receive, Scope, Send

from .metrics import UNMATCHED_ROUTE, ResponseStatus, route_template

DEFAULT_EXCLUDED_URLS = "livez,readyz"

# The SDK allows one global tracer provider per process; app factories called again (tests,
# reloads) reuse it.
_provider: TracerProvider | None = None
# The provider's exporting processors, which UnsampledErrors hands its after-the-fact spans to.
_exporting = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
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


def sampler_from_environment(environ: Mapping[str, str] | None = None) -> Sampler:
    """The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name (the SDK's names)."""
    env = os.environ if environ is None else environ
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    argument = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    ratio = 1.0
    if name.endswith("traceidratio") and argument:
        try:
            ratio = float(argument)
        except ValueError:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={argument}: not a number") from None
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={argument}: a ratio is between 0 and 1")
    roots: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
    }
    if name in roots:
        return roots[name]
    if name.startswith("parentbased_") and name.removeprefix("parentbased_") in roots:
        return ParentBased(roots[name.removeprefix("parentbased_")])
    raise ValueError(f"OTEL_TRACES_SAMPLER={name}: not a sampler this service knows")


def keeps_errors(environ: Mapping[str, str] | None = None) -> bool:
    """Whether failing traces are kept whatever the sampler decides: yes, unless the sampler is
    an `*always_off` one, which turns tracing off."""
    env = os.environ if environ is None else environ
    return "always_off" not in env.get("OTEL_TRACES_SAMPLER", "").strip().lower()


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
    resource = service_resource(default_service_name)
    sampler = sampler_from_environment()
    provider = TracerProvider(resource=resource, sampler=sampler)
    provider.add_span_processor(_exporting)
    for name in exporter_names():
        processor: SpanProcessor | None = None
        if name == "otlp":
            check_otlp_protocol()
            processor = BatchSpanProcessor(OTLPSpanExporter())
        elif name == "console":
            processor = SimpleSpanProcessor(ConsoleSpanExporter(formatter=_one_line_json))
        if processor is not None:
            _exporting.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    # Patches sqlalchemy.create_engine, so engines created from now on emit query spans.
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def instrument_app(
    app: FastAPI, provider: TracerProvider, exporting: SpanProcessor = _exporting
) -> None:
    """Server spans for every request except the excluded URLs; W3C context is extracted. The
    failing requests the sampler left out are exported afterwards, through `exporting`."""
    if keeps_errors():
        app.add_middleware(UnsampledErrors, exporting=exporting, resource=provider.resource)
    excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or DEFAULT_EXCLUDED_URLS
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=excluded,
        # One internal span per ASGI message (request body, response start, response body)
        # would triple the spans of every request and tell nothing the server span does not.
        exclude_spans=["receive", "send"],
    )


SCOPE = InstrumentationScope(__name__)


class UnsampledErrors:
    """Pure ASGI middleware inside the server span. A request the sampler left out runs with
    instrumentation suppressed (its span is not recorded, so the query spans and their attributes
    would be work for nothing); when it fails, a 5xx answer or an exception, its server span is
    made afterwards and handed to `exporting`, marked sampled, so no failing request is lost."""

    def __init__(self, app: ASGIApp, exporting: SpanProcessor, resource: Resource) -> None:
        self.app = app
        self.exporting = exporting
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        span_context = trace.get_current_span().get_span_context()
        if scope["type"] != "http" or not span_context.is_valid or span_context.trace_flags.sampled:
            await self.app(scope, receive, send)
            return
        started = time.time_ns()
        response = ResponseStatus(send)
        try:
            with suppress_instrumentation():
                await self.app(scope, receive, response)
        except Exception as error:
            self.keep(scope, span_context, started, response.status, error)
            raise
        if response.status >= 500:
            self.keep(scope, span_context, started, response.status, None)

    def keep(
        self,
        scope: Scope,
        span_context: SpanContext,
        started: int,
        status: int,
        error: Exception | None,
    ) -> None:
        ended = time.time_ns()
        method = str(scope["method"])
        route = route_template(scope)
        # The attributes the instrumentation gives its server spans, under the same names.
        attributes = dict(collect_request_attributes(scope))  # type: ignore[no-untyped-call]
        attributes["http.status_code"] = status
        if route != UNMATCHED_ROUTE:
            attributes["http.route"] = route
        events = []
        if error is not None:
            exception: Attributes = {
                "exception.type": type(error).__qualname__,
                "exception.message": str(error),
                "exception.stacktrace": "".join(traceback.format_exception(error)),
            }
            events.append(Event("exception", exception, ended))
        parent = trace.get_current_span(propagate.extract(dict(scope), getter=asgi_getter))
        parent_context = parent.get_span_context()
        kept = SpanContext(
            span_context.trace_id,
            span_context.span_id,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
            trace_state=span_context.trace_state,
        )
        self.exporting.on_end(
            ReadableSpan(
                name=f"{method} {route}" if route != UNMATCHED_ROUTE else method,
                context=kept,
                parent=parent_context if parent_context.is_valid else None,
                resource=self.resource,
                attributes=attributes,
                events=events,
                kind=SpanKind.SERVER,
                status=Status(StatusCode.ERROR, str(error) if error else None),
                start_time=started,
                end_time=ended,
                instrumentation_scope=SCOPE,
            )
        )
