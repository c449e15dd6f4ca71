from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from inventory.logs import JsonFormatter, configure_logging, service_fields

pytestmark = pytest.mark.unit


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    test_logger = logging.getLogger("test.logs")
    test_logger.addHandler(handler)
    test_logger.setLevel(logging.DEBUG)
    test_logger.propagate = False
    yield test_logger, stream
    test_logger.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_the_standard_fields(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger

    log.info("hello %s", "world")
    log.warning("second\nline")

    first, second = records(stream)
    assert first["message"] == "hello world"
    assert first["level"] == "INFO"
    assert first["logger"] == "test.logs"
    assert first["timestamp"].endswith("Z")
    assert second["message"] == "second\nline"
    assert "trace_id" not in first


def test_trace_and_span_ids_of_the_current_span(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("work") as span:
        log.info("inside a span")
    context = span.get_span_context()

    (record,) = records(stream)
    assert record["trace_id"] == f"{context.trace_id:032x}"
    assert record["span_id"] == f"{context.span_id:016x}"
    assert len(record["trace_id"]) == 32
    assert len(record["span_id"]) == 16


def test_extras_and_exceptions_are_fields(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed", extra={"item_id": 7})

    (record,) = records(stream)
    assert record["item_id"] == 7
    assert record["level"] == "ERROR"
    assert "RuntimeError: boom" in record["exception"]


def test_every_line_names_the_service_and_its_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "inventory")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
    configure_logging("INFO")
    logging.getLogger("test.fields").info("hello")
    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "hello" in line]
    assert (line["service"], line["environment"]) == ("inventory", "staging")


def test_the_service_is_named_without_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert service_fields() == {"service": "inventory"}


def test_uvicorn_loggers_go_through_the_json_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")

    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/items", "1.1", 200
    )

    error, access = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert error["logger"] == "uvicorn.error"
    assert error["message"] == "Started server process [42]"
    assert access["logger"] == "uvicorn.access"
    assert access["method"] == "GET"
    assert access["path"] == "/items"
    assert access["status_code"] == 200
