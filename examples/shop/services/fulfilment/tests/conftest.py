"""Shared test setup: tracing on (SDK enabled, nothing exported) so trace ids reach the logs."""

from __future__ import annotations

import os

# Before any app is created: the tracer provider is configured once per process.
os.environ["OTEL_SDK_DISABLED"] = "false"
os.environ["OTEL_TRACES_EXPORTER"] = "none"
os.environ.setdefault("OTEL_SERVICE_NAME", "test")
