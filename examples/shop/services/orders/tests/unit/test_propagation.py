from __future__ import annotations

import secrets

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from orders.propagation import extract_context, inject_headers

pytestmark = pytest.mark.unit


def test_headers_carry_the_current_span_and_the_caller_s_headers() -> None:
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("publish") as span:
        headers = inject_headers({"x-custom": 1})

    context = span.get_span_context()
    assert headers["x-custom"] == 1
    version, trace_id, span_id, flags = str(headers["traceparent"]).split("-")
    assert version == "00"
    assert (trace_id, span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert int(flags, 16) & 0x01, "sampled"


def test_nothing_is_injected_outside_a_span() -> None:
    assert "traceparent" not in inject_headers()


@pytest.mark.parametrize("encode", [False, True], ids=["str", "bytes"])
def test_a_consumer_continues_the_trace_of_the_headers(encode: bool) -> None:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = f"00-{trace_id}-{span_id}-01"
    headers: dict[str, object] = {
        "traceparent": traceparent.encode() if encode else traceparent,
        "x-retry-count": 2,
    }

    parent = trace.get_current_span(extract_context(headers)).get_span_context()

    assert f"{parent.trace_id:032x}" == trace_id
    assert f"{parent.span_id:016x}" == span_id
    assert parent.is_remote


def test_no_headers_no_context() -> None:
    assert not trace.get_current_span(extract_context(None)).get_span_context().is_valid
