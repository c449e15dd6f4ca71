"""W3C trace context in AMQP message headers.

The propagators are OpenTelemetry's global ones (OTEL_PROPAGATORS, default tracecontext,baggage),
so a publisher writes `traceparent` (and `tracestate`, `baggage`) into the headers of the
messages it sends, and a consumer continues that trace from them.
"""

from __future__ import annotations

from collections.abc import Mapping

from aio_pika.abc import FieldValue, HeadersType
from opentelemetry import propagate
from opentelemetry.context import Context


def inject_headers(headers: Mapping[str, FieldValue] | None = None) -> HeadersType:
    """`headers` plus the current trace context (nothing is added outside a sampled span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {**(headers or {}), **carrier}


def extract_context(headers: Mapping[str, object] | None) -> Context:
    """The trace context carried by a message's headers (empty when it carries none)."""
    carrier: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if isinstance(value, bytes):
            carrier[key] = value.decode("utf-8", errors="replace")
        elif isinstance(value, str):
            carrier[key] = value
    return propagate.extract(carrier)
