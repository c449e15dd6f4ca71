"""Log records reach an OTLP/HTTP receiver (the collector's protocol) with the trace context of
their span and the service's resource, which the log store indexes them by."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk.trace import TracerProvider

from inventory import tracing

pytestmark = pytest.mark.unit


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[ExportLogsServiceRequest]]]:
    """An OTLP/HTTP logs endpoint on loopback that keeps what it receives."""
    received: list[ExportLogsServiceRequest] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/v1/logs":
                received.append(ExportLogsServiceRequest.FromString(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fresh_export(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(tracing, "_log_provider", None)
    monkeypatch.setattr(tracing, "_log_handler", None)
    yield
    handler = tracing._log_handler
    if handler is not None:
        logging.getLogger().removeHandler(handler)


def test_log_records_are_exported_with_their_trace_and_service(
    receiver: tuple[str, list[ExportLogsServiceRequest]],
    fresh_export: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = receiver
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "inventory")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
    provider = tracing.configure_log_export("inventory")
    assert provider is not None
    span = None
    try:
        with TracerProvider().get_tracer("test").start_as_current_span("work") as span:
            logging.getLogger("test.export").warning("inside %s", "a span", extra={"item_id": 7})
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    exported = [
        (resource_logs.resource, record)
        for request in received
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
        if record.body.string_value == "inside a span"
    ]
    assert len(exported) == 1, received
    resource, record = exported[0]
    assert record.trace_id == span.get_span_context().trace_id.to_bytes(16, "big")
    assert record.span_id == span.get_span_context().span_id.to_bytes(8, "big")
    attributes = {a.key: a.value for a in record.attributes}
    assert attributes["item_id"].int_value == 7
    labels = {a.key: a.value.string_value for a in resource.attributes}
    assert labels["service.name"] == "inventory"
    assert labels["deployment.environment.name"] == "staging"


def test_logs_are_not_exported_unless_asked(
    fresh_export: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_LOGS_EXPORTER", raising=False)
    assert tracing.log_exporter_names({}) == ["none"]
    assert tracing.configure_log_export("inventory") is None


def test_an_unknown_log_exporter_is_an_error() -> None:
    with pytest.raises(ValueError, match="console"):
        tracing.log_exporter_names({"OTEL_LOGS_EXPORTER": "console"})
