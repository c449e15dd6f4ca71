from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    StatusCode,
    TraceFlags,
    Tracer,
    set_span_in_context,
)

from fulfilment.tracing import (
    ErrorTraces,
    RecordingSampler,
    check_otlp_protocol,
    exporter_names,
    sampler_from_environment,
    sdk_disabled,
)

pytestmark = pytest.mark.unit


def test_default_exporter_is_otlp() -> None:
    assert exporter_names({}) == ["otlp"]


def test_exporters_are_a_comma_separated_list() -> None:
    assert exporter_names({"OTEL_TRACES_EXPORTER": "console, none"}) == ["console", "none"]


def test_unknown_exporter_is_an_error() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        exporter_names({"OTEL_TRACES_EXPORTER": "zipkin"})


@pytest.mark.parametrize(("value", "disabled"), [("true", True), ("TRUE ", True), ("false", False)])
def test_sdk_disabled(value: str, disabled: bool) -> None:
    assert sdk_disabled({"OTEL_SDK_DISABLED": value}) is disabled


def test_otlp_over_http_is_the_only_protocol() -> None:
    check_otlp_protocol({})
    check_otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    with pytest.raises(ValueError, match="grpc"):
        check_otlp_protocol({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"})


@pytest.mark.parametrize(
    ("environ", "description"),
    [
        ({}, "ParentBased{root:AlwaysOnSampler"),
        ({"OTEL_TRACES_SAMPLER": "always_on"}, "AlwaysOnSampler"),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
            "ParentBased{root:TraceIdRatioBased{0.1}",
        ),
        ({"OTEL_TRACES_SAMPLER": "traceidratio"}, "TraceIdRatioBased{1.0}"),
    ],
)
def test_the_sampler_is_the_one_the_standard_variables_name(
    environ: dict[str, str], description: str
) -> None:
    assert sampler_from_environment(environ).get_description().startswith(description)


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "jaeger_remote"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"}, "half"),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
            "between 0 and 1",
        ),
    ],
)
def test_a_sampler_setting_that_cannot_be_used_is_an_error(
    environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        sampler_from_environment(environ)


NEVER = ParentBased(TraceIdRatioBased(0.0))  # the production ratio at its limit: no trace sampled


def _provider(sampler: Sampler, max_traces: int = 2048) -> tuple[Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=RecordingSampler(sampler))
    provider.add_span_processor(ErrorTraces(SimpleSpanProcessor(exporter), max_traces))
    return provider.get_tracer("test"), exporter


def test_a_trace_the_sampler_leaves_out_is_recorded_but_not_exported() -> None:
    tracer, exporter = _provider(NEVER)
    with tracer.start_as_current_span("GET /items") as server:
        with tracer.start_as_current_span("SELECT") as query:
            assert query.is_recording()
            assert not query.get_span_context().trace_flags.sampled
        assert server.is_recording()
    assert exporter.get_finished_spans() == ()


def test_a_trace_the_sampler_leaves_out_is_exported_whole_when_a_span_fails() -> None:
    tracer, exporter = _provider(NEVER)
    with tracer.start_as_current_span("GET /items"):
        with tracer.start_as_current_span("SELECT") as query:
            query.set_status(StatusCode.ERROR, "deadlock")
        with tracer.start_as_current_span("rollback"):
            pass
    with tracer.start_as_current_span("GET /items"):  # another trace, without an error
        pass
    exported = exporter.get_finished_spans()
    assert sorted(s.name for s in exported) == ["GET /items", "SELECT", "rollback"]
    assert len({s.context.trace_id for s in exported}) == 1


def test_an_exception_makes_its_trace_kept() -> None:
    tracer, exporter = _provider(NEVER)
    with pytest.raises(RuntimeError), tracer.start_as_current_span("process orders"):
        raise RuntimeError("the handler failed")
    assert [s.name for s in exporter.get_finished_spans()] == ["process orders"]


def test_sampled_traces_are_exported_as_their_spans_end() -> None:
    tracer, exporter = _provider(ALWAYS_ON)
    with tracer.start_as_current_span("GET /items"):
        with tracer.start_as_current_span("SELECT"):
            pass
        assert [s.name for s in exporter.get_finished_spans()] == ["SELECT"]
    assert len(exporter.get_finished_spans()) == 2


@pytest.mark.parametrize(("flags", "exported"), [(TraceFlags.SAMPLED, 1), (TraceFlags.DEFAULT, 0)])
def test_a_continued_trace_follows_its_parents_decision(flags: TraceFlags, exported: int) -> None:
    tracer, exporter = _provider(ParentBased(ALWAYS_ON))
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(flags))
    continued = set_span_in_context(NonRecordingSpan(parent))
    with tracer.start_as_current_span("process orders", context=continued):
        pass
    assert len(exporter.get_finished_spans()) == exported


def test_traces_waiting_for_their_root_are_bounded() -> None:
    tracer, exporter = _provider(NEVER, max_traces=2)
    roots = [tracer.start_span(f"request {n}") for n in range(4)]
    for root in roots:  # a child ends in error in each; the roots have not ended yet
        with tracer.start_as_current_span("SELECT", context=set_span_in_context(root)) as child:
            child.set_status(StatusCode.ERROR)
    for root in roots:
        root.end()
    # The two oldest traces were let go while waiting; the two newest are exported whole.
    exported = sorted(s.name for s in exporter.get_finished_spans())
    assert exported == ["SELECT", "SELECT", "request 2", "request 3"]
