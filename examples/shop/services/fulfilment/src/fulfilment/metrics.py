"""Prometheus metrics of the message handling, served on METRICS_PORT (see server.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `<name>_created` series: one per label set, and nothing the alerts or dashboards read.
disable_created_metrics()  # type: ignore[no-untyped-call]

PROCESSED = Counter(
    "worker_messages_processed",
    "Messages handled and acknowledged, by outcome (handled, duplicate).",
    ["outcome"],
)
FAILED = Counter(
    "worker_messages_failed",
    "Messages whose handling failed, by what happened next (retry, defer, dead_letter).",
    ["action"],
)
IN_FLIGHT = Gauge("worker_messages_in_flight", "Messages being handled now.")
HANDLING = Histogram(
    "worker_message_handling_seconds",
    "Time from delivery to acknowledgement or rejection, by outcome.",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
