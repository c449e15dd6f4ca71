from __future__ import annotations

import pytest

from fulfilment.publish import main

pytestmark = pytest.mark.unit


def test_a_payload_that_is_not_json_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AMQP_URL", "amqp://u:p@127.0.0.1:1/")

    assert main(["orders.item.published", "{not json"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_the_broker_url_is_required(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AMQP_URL", raising=False)
    monkeypatch.delenv("AMQP_URL_FILE", raising=False)

    assert main(["orders.item.published", "{}"]) == 2
    assert "AMQP_URL" in capsys.readouterr().err
