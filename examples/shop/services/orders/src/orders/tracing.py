"""OpenTelemetry traces and logs, configured only by the standard OTEL_* environment variables.

- OTEL_SDK_DISABLED=true: no SDK, no instrumentation.
- OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource (service.name defaults to this
  service's name when neither sets it).
- OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: which traces are sampled (default
  parentbased_always_on; the chart sets each environment's: 100% in test, a ratio in production).
  The sampler decides before anything about a request is computed (ServerSpans). A request it
  leaves out is not recorded: its span carries the trace context only (log lines and the next
  services still get the trace id), and instrumentation is suppressed inside it, so it costs
  next to nothing. Should it fail (a 5xx answer or an exception), ServerSpans exports its server
  span afterwards, with the same trace and span ids, the time the request
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
- OTEL_PYTHON_FASTAPI_EXCLUDED_URLS: paths not traced, comma-separated regular expressions searched
  in the request's path (default: the probes).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Mapping
from typing import Any, cast

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import asgi_getter, collect_request_attributes
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
from opentelemetry.util.http import ExcludeList, parse_excluded_urls
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Receive, Scope, Send

from .metrics import UNMATCHED_ROUTE, ResponseStatus, route_template

DEFAULT_EXCLUDED_URLS = "livez,readyz"

# The SDK allows one global tracer provider per process; app factories called again (tests,
# reloads) reuse it.
_provider: TracerProvider | None = None
# The provider's exporting processors, which ServerSpans hands its after-the-fact spans to.
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
    """Server spans for every request except the excluded URLs, W3C context extracted; the
    failing requests the sampler left out are exported afterwards, through `exporting`."""
    excluded = os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or DEFAULT_EXCLUDED_URLS
    app.add_middleware(
        ServerSpans,
        tracer=provider.get_tracer(__name__),
        excluded=parse_excluded_urls(excluded),
        exporting=exporting if keeps_errors() else None,
        resource=provider.resource,
    )


SCOPE = InstrumentationScope(__name__)


class ServerSpans:
    """Pure ASGI middleware: one server span per request, named and attributed as
    OpenTelemetry's ASGI instrumentation names them (`GET /items/{item_id}`, http.method,
    http.target, http.route, http.status_code...).

    The sampler decides first (it is given no request attributes: the parent-based and ratio
    samplers read none). A request it leaves out is not recorded: its span carries the trace
    context only (log lines and the next services still get the trace id), no attribute is
    computed, and instrumentation is suppressed inside it, so it costs next to nothing. Should
    it fail (a 5xx answer or an exception), its server span is made afterwards and handed to
    `exporting`, marked sampled, with the same ids: no failing request is lost to sampling."""

    def __init__(
        self,
        app: ASGIApp,
        tracer: trace.Tracer,
        excluded: ExcludeList,
        exporting: SpanProcessor | None,
        resource: Resource,
    ) -> None:
        self.app = app
        self.tracer = tracer
        self.excluded = excluded
        self.exporting = exporting
        self.resource = resource

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.excluded.url_disabled(scope["path"]):
            await self.app(scope, receive, send)
            return
        parent = propagate.extract(_carrier(scope), getter=asgi_getter)
        method = str(scope["method"])
        started = time.time_ns()
        span = self.tracer.start_span(
            method, context=parent, kind=SpanKind.SERVER, start_time=started
        )
        response = ResponseStatus(send)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            if span.is_recording():
                await self.traced(span, scope, receive, response)
            else:
                await self.untraced(span, started, scope, receive, response)
        finally:
            otel_context.detach(token)

    async def traced(
        self, span: trace.Span, scope: Scope, receive: Receive, response: ResponseStatus
    ) -> None:
        span.set_attributes(collect_request_attributes(scope))  # type: ignore[no-untyped-call]
        try:
            await self.app(scope, receive, response)
        except Exception as error:
            span.record_exception(error)
            raise
        finally:
            attributes, name = _outcome(scope, response.status)
            span.set_attributes(attributes)
            span.update_name(name)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()

    async def untraced(
        self,
        span: trace.Span,
        started: int,
        scope: Scope,
        receive: Receive,
        response: ResponseStatus,
    ) -> None:
        try:
            with suppress_instrumentation():
                await self.app(scope, receive, response)
        except Exception as error:
            self.keep(scope, span, started, response.status, error)
            raise
        if response.status >= 500:
            self.keep(scope, span, started, response.status, None)

    def keep(
        self,
        scope: Scope,
        span: trace.Span,
        started: int,
        status: int,
        error: Exception | None,
    ) -> None:
        if self.exporting is None:
            return
        ended = time.time_ns()
        span_context = span.get_span_context()
        attributes, name = _outcome(scope, status)
        attributes = {**collect_request_attributes(scope), **attributes}  # type: ignore[no-untyped-call]
        events = []
        if error is not None:
            exception: Attributes = {
                "exception.type": type(error).__qualname__,
                "exception.message": str(error),
                "exception.stacktrace": "".join(traceback.format_exception(error)),
            }
            events.append(Event("exception", exception, ended))
        parent = trace.get_current_span(propagate.extract(_carrier(scope), getter=asgi_getter))
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
                name=name,
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


def _carrier(scope: Scope) -> dict[str, Any]:
    # The ASGI getter reads the scope's headers; it is typed for dicts, and a scope is one.
    return cast("dict[str, Any]", scope)


def _outcome(scope: Scope, status: int) -> tuple[dict[str, str | int], str]:
    """The attributes a request's answer gives its span, and the span's name."""
    method = str(scope["method"])
    route = route_template(scope)
    attributes: dict[str, str | int] = {"http.status_code": status}
    if route == UNMATCHED_ROUTE:
        return attributes, method
    attributes["http.route"] = route
    return attributes, f"{method} {route}"
