from __future__ import annotations

import pytest

from fulfilment.tracing import check_otlp_protocol, exporter_names, sdk_disabled

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
