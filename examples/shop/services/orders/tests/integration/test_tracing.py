from __future__ import annotations

import json
import secrets
import uuid

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


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
