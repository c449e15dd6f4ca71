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


def log_records(received: list[tuple[str, bytes]], python: Path, scratch: Path) -> list[dict[str, Any]]:
    """The log records of the /v1/logs exports in `received`, decoded by `python` (a service's
    interpreter, which has the OTLP protobuf classes): resource attributes, body, trace id."""
    paths = []
    for index, (path, body) in enumerate(list(received)):
        if path == "/v1/logs":
            paths.append(scratch / f"logs-{index}.bin")
            paths[-1].write_bytes(body)
    if not paths:
        return []
    proc = subprocess.run(
        [str(python), "-c", _DECODE_LOGS, *map(str, paths)], capture_output=True, text=True, check=True
    )
    records: list[dict[str, Any]] = json.loads(proc.stdout)
    return records
