from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.integration


@pytest.fixture
def finished_spans(client: TestClient) -> Iterator[InMemorySpanExporter]:
    """The spans the app finishes from now on (the client fixture configured the provider)."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays on the global provider; it drops spans from now on


def test_incoming_traceparent_is_continued_in_the_logs(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id = secrets.token_hex(16)
    parent_span_id = secrets.token_hex(8)
    capsys.readouterr()

    response = client.post(
        "/items",
        json={"name": f"traced-{uuid.uuid4().hex}"},
        headers={"traceparent": f"00-{trace_id}-{parent_span_id}-01"},
    )

    assert response.status_code == 201
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    created = [r for r in records if r["message"] == "item created"]
    assert len(created) == 1, records
    assert created[0]["trace_id"] == trace_id
    assert created[0]["item_id"] == response.json()["id"]
    assert len(created[0]["span_id"]) == 16
    assert created[0]["span_id"] != parent_span_id


def test_a_request_is_one_server_span_with_its_queries_inside(
    client: TestClient, finished_spans: InMemorySpanExporter
) -> None:
    response = client.get("/items", params={"limit": 5})

    assert response.status_code == 200
    spans = finished_spans.get_finished_spans()
    server = [s for s in spans if s.kind is SpanKind.SERVER]
    assert [s.name for s in server] == ["GET /items"], spans
    inside = [s for s in spans if s.kind is not SpanKind.SERVER]
    # The database queries, as client spans of the same trace; no internal span per ASGI message.
    assert any(s.name.startswith("SELECT") for s in inside), [s.name for s in inside]
    assert all(s.kind is SpanKind.CLIENT for s in inside), [(s.name, s.kind) for s in inside]
    assert all(s.context.trace_id == server[0].context.trace_id for s in inside)
