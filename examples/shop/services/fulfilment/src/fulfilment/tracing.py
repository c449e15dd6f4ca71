"""OpenTelemetry traces and logs, configured only by the standard OTEL_* environment variables.

- OTEL_SDK_DISABLED=true: no SDK, no instrumentation.
- OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource (service.name defaults to this
  service's name when neither sets it).
- OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: which traces are sampled (default
  parentbased_always_on; the chart sets each environment's: 100% in test, a ratio in production).
  A trace the sampler leaves out is still recorded, and its spans in this process are exported
  when one of them ends in error (an exception, a failed message), so no error trace is lost to
  sampling; the others cost no export. `*always_off` samplers turn tracing off entirely.
- OTEL_TRACES_EXPORTER: comma-separated `otlp` (default, OTLP over HTTP/protobuf, endpoint from
  OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), `console`, or `none`.
  OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL may only be `http/protobuf`: the gRPC exporter is not
  installed.
- OTEL_LOGS_EXPORTER: `otlp` sends every log record (with the trace and span ids of its span) to
  the collector as well (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_LOGS_ENDPOINT), which
  stores them in the ecosystem's log store; `none` (the default here: the JSON lines on stdout are
  always written, and a cluster may collect those instead) sends nothing.
- OTEL_PROPAGATORS: context read from and written to message headers (default
  tracecontext,baggage: W3C traceparent).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence

from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

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


class RecordingSampler(Sampler):
    """The configured sampler decides which traces are sampled (exported, and marked sampled for
    the services they reach next); a trace it leaves out is still recorded here, not sampled, so
    that ErrorTraces can export it should it end in error."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler

    def should_sample(  # noqa: PLR0913, PLR0917 - the SDK's Sampler interface, called positionally
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        result = self.sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, result.attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        return "RecordingSampler(" + self.sampler.get_description() + ")"


class ErrorTraces(SpanProcessor):
    """Sampled spans go on to `processor` as they end. The spans of a trace that was not sampled
    wait until the trace's first span in this process (its local root) ends: they go on too when
    one of them ended in error, and are dropped otherwise. At most `max_traces` wait (the oldest
    is dropped first), so a span that never ends cannot hold memory."""

    def __init__(self, processor: SpanProcessor, max_traces: int = 2048) -> None:
        self.processor = processor
        self.max_traces = max_traces
        self._waiting: dict[int, list[ReadableSpan]] = {}
        self._failed: set[int] = set()
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or context.trace_flags.sampled:
            self.processor.on_end(span)
            return
        trace_id = context.trace_id
        local_root = span.parent is None or span.parent.is_remote
        with self._lock:
            waiting = self._waiting.setdefault(trace_id, [])
            waiting.append(span)
            if span.status.status_code is StatusCode.ERROR:
                self._failed.add(trace_id)
            if local_root:
                self._waiting.pop(trace_id, None)
                export = trace_id in self._failed
                self._failed.discard(trace_id)
            else:
                export = False
                if len(self._waiting) > self.max_traces:
                    oldest = next(iter(self._waiting))
                    self._waiting.pop(oldest)
                    self._failed.discard(oldest)
        if export:
            for finished in waiting:
                self.processor.on_end(_sampled(finished))

    def shutdown(self) -> None:
        self.processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.processor.force_flush(timeout_millis)


def _sampled(span: ReadableSpan) -> ReadableSpan:
    """The span marked sampled: the SDK's processors export sampled spans only, and it is kept."""
    context = span.context
    if context is None:
        return span
    kept = SpanContext(
        context.trace_id,
        context.span_id,
        context.is_remote,
        TraceFlags(TraceFlags.SAMPLED),
        context.trace_state,
    )
    return ReadableSpan(
        name=span.name,
        context=kept,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


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
    provider = TracerProvider(
        resource=resource, sampler=RecordingSampler(sampler) if keeps_errors() else sampler
    )
    for name in exporter_names():
        processor: SpanProcessor | None = None
        if name == "otlp":
            check_otlp_protocol()
            processor = BatchSpanProcessor(OTLPSpanExporter())
        elif name == "console":
            processor = SimpleSpanProcessor(ConsoleSpanExporter(formatter=_one_line_json))
        if processor is not None:
            provider.add_span_processor(ErrorTraces(processor) if keeps_errors() else processor)
    trace.set_tracer_provider(provider)
    # Patches sqlalchemy's create_engine and create_async_engine: engines created from now on
    # emit query spans.
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider
