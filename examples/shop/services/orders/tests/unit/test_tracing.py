from __future__ import annotations

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import collect_request_attributes
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from orders import tracing
from orders.tracing import (
    check_otlp_protocol,
    exporter_names,
    instrument_app,
    keeps_errors,
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
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def _traced_app(sampler: Sampler) -> tuple[TestClient, InMemorySpanExporter]:
    """An app instrumented as the service's is, its spans exported to memory."""
    exporter = InMemorySpanExporter()
    exporting = SimpleSpanProcessor(exporter)
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(exporting)
    app = FastAPI()

    @app.get("/ok")
    def ok() -> dict[str, object]:
        span = trace.get_current_span().get_span_context()
        return {"span_id": f"{span.span_id:016x}", "instrumented": is_instrumentation_enabled()}

    @app.get("/unavailable")
    def unavailable() -> None:
        raise HTTPException(503, "the database is down")

    @app.get("/missing")
    def missing() -> None:
        raise HTTPException(404)

    @app.get("/boom/{part}")
    def boom(part: str) -> None:
        span = trace.get_current_span().get_span_context()
        raise RuntimeError(f"{part} failed in span {span.span_id:016x}")

    instrument_app(app, provider, exporting)
    return TestClient(app, raise_server_exceptions=False), exporter


def test_a_request_the_sampler_leaves_out_is_neither_recorded_nor_exported() -> None:
    client, exporter = _traced_app(NEVER)
    answer = client.get("/ok").json()
    assert answer["instrumented"] is False  # no query spans made for nothing
    assert answer["span_id"] != "0" * 16  # the context still carries ids, for logs and next hops
    assert client.get("/missing").status_code == 404  # a client error is not a failure here
    assert exporter.get_finished_spans() == ()


def test_a_failing_request_the_sampler_left_out_is_exported_afterwards() -> None:
    client, exporter = _traced_app(NEVER)
    unsampled_parent = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"}
    response = client.get("/boom/payment", headers=unsampled_parent)
    assert response.status_code == 500
    [span] = exporter.get_finished_spans()
    assert span.name == "GET /boom/{part}"
    assert span.kind is SpanKind.SERVER
    assert span.status.status_code is StatusCode.ERROR
    assert span.context is not None
    assert span.context.trace_flags.sampled
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_ID
    assert span.attributes is not None
    assert span.attributes["http.status_code"] == 500  # the instrumentation's attribute names
    assert span.attributes["http.target"] == "/boom/payment"
    assert span.attributes["http.route"] == "/boom/{part}"
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    message = str(event.attributes["exception.message"])
    # The span ids the request ran with (its log lines carry them) are the exported span's.
    assert message == f"payment failed in span {span.context.span_id:016x}"
    assert span.start_time is not None
    assert span.end_time is not None
    assert span.start_time < span.end_time


def test_a_5xx_answer_makes_an_unsampled_request_kept() -> None:
    client, exporter = _traced_app(NEVER)
    assert client.get("/unavailable").status_code == 503
    [span] = exporter.get_finished_spans()
    assert span.parent is None  # a new trace, started here
    assert span.attributes is not None
    assert span.attributes["http.status_code"] == 503
    assert span.events == ()


def test_a_sampled_request_is_exported_once_whether_it_fails_or_not() -> None:
    client, exporter = _traced_app(ALWAYS_ON)
    assert client.get("/ok").json()["instrumented"] is True
    assert client.get("/boom/payment").status_code == 500
    names = [s.name for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert names == ["GET /ok", "GET /boom/{part}"]


def test_a_sampled_request_that_raises_is_an_error_with_its_exception() -> None:
    client, exporter = _traced_app(ALWAYS_ON)
    assert client.get("/boom/payment").status_code == 500
    [span] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert span.status.status_code is StatusCode.ERROR  # nothing answered before it raised
    assert span.attributes is not None
    assert span.attributes["http.status_code"] == 500
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"
    assert span.context is not None
    message = f"payment failed in span {span.context.span_id:016x}"
    assert event.attributes["exception.message"] == message


def test_the_sampler_decides_before_a_request_s_attributes_are_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[str] = []

    def counted(scope: dict[str, object]) -> object:
        computed.append(str(scope["path"]))
        return collect_request_attributes(scope)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(tracing, "collect_request_attributes", counted)
    unsampled, _ = _traced_app(NEVER)
    assert unsampled.get("/ok").status_code == 200
    assert computed == []  # nothing is computed for a span that is not recorded
    sampled, exporter = _traced_app(ALWAYS_ON)
    assert sampled.get("/ok?page=2", headers={"user-agent": "probe"}).status_code == 200
    assert computed == ["/ok"]
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    # The attribute names of OpenTelemetry's ASGI instrumentation, as dashboards expect them.
    assert span.attributes["http.method"] == "GET"
    assert span.attributes["http.target"] == "/ok"
    assert span.attributes["http.route"] == "/ok"
    assert span.attributes["http.status_code"] == 200
    assert span.attributes["http.user_agent"] == "probe"
    assert span.status.status_code is StatusCode.UNSET


def test_an_always_off_sampler_keeps_no_error_either(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
    assert not keeps_errors()
    client, exporter = _traced_app(NEVER)
    assert client.get("/boom/payment").status_code == 500
    assert exporter.get_finished_spans() == ()
