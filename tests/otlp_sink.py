"""A local OTLP/HTTP receiver: accepts exports and drops them (otlp_sink), or keeps them
(recording_otlp_sink) so a test can read what a service exported, decoded by `log_records` with
the OpenTelemetry protobuf classes of the service's own environment."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.servers import free_port


class _Sink(http.server.BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports and drops them (what matters is the app's cost of sending)."""

    received: list[tuple[str, bytes]] | None = None  # (path, body) of each export, when recording

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.received is not None:
            self.received.append((self.path, body))
        # As the collector answers: an empty ExportTraceServiceResponse in the request's encoding.
        json_request = self.headers.get("Content-Type", "").startswith("application/json")
        body = b"{}" if json_request else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if json_request else "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serve(handler: type[_Sink]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def otlp_sink() -> Iterator[str]:
    with _serve(_Sink) as url:
        yield url


@contextmanager
def recording_otlp_sink() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """An OTLP/HTTP endpoint that keeps every export: yields its URL and the (path, body) list."""
    received: list[tuple[str, bytes]] = []
    handler = type("_RecordingSink", (_Sink,), {"received": received})
    with _serve(handler) as url:
        yield url, received


_DECODE_LOGS = """
import json, sys
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
out = []
for path in sys.argv[1:]:
    request = ExportLogsServiceRequest.FromString(open(path, "rb").read())
    for resource_logs in request.resource_logs:
        resource = {a.key: a.value.string_value for a in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                out.append({"resource": resource, "body": record.body.string_value,
                            "trace_id": record.trace_id.hex(), "severity": record.severity_text})
print(json.dumps(out))
"""

_DECODE_SPANS = """
import json, sys
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
out = []
for path in sys.argv[1:]:
    request = ExportTraceServiceRequest.FromString(open(path, "rb").read())
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {}
                for a in span.attributes:
                    kind = a.value.WhichOneof("value")
                    attributes[a.key] = getattr(a.value, kind) if kind else None
                out.append({"trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(), "name": span.name,
                            "kind": Span.SpanKind.Name(span.kind), "status": Status.StatusCode.Name(span.status.code),
                            "attributes": attributes, "events": [e.name for e in span.events],
                            "start_ns": span.start_time_unix_nano, "end_ns": span.end_time_unix_nano})
print(json.dumps(out))
"""


def _decode(
    received: list[tuple[str, bytes]], signal: str, script: str, python: Path, scratch: Path
) -> list[dict[str, Any]]:
    """The exports to /v1/<signal> in `received`, decoded by `script` run by `python` (a service's
    interpreter, which has the OTLP protobuf classes)."""
    paths = []
    for index, (path, body) in enumerate(list(received)):
        if path == f"/v1/{signal}":
            paths.append(scratch / f"{signal}-{index}.bin")
            paths[-1].write_bytes(body)
    if not paths:
        return []
    proc = subprocess.run([str(python), "-c", script, *map(str, paths)], capture_output=True, text=True, check=True)
    decoded: list[dict[str, Any]] = json.loads(proc.stdout)
    return decoded


def log_records(received: list[tuple[str, bytes]], python: Path, scratch: Path) -> list[dict[str, Any]]:
    """The log records of the /v1/logs exports in `received`: resource attributes, body, trace id."""
    return _decode(received, "logs", _DECODE_LOGS, python, scratch)


def spans(received: list[tuple[str, bytes]], python: Path, scratch: Path) -> list[dict[str, Any]]:
    """The spans of the /v1/traces exports in `received`: ids (hex), name, kind and status (their
    protobuf names: SPAN_KIND_SERVER, STATUS_CODE_ERROR), attributes, event names, times."""
    return _decode(received, "traces", _DECODE_SPANS, python, scratch)
