from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.unit


def test_livez_needs_no_database(client: TestClient) -> None:
    response = client.get("/livez")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_503_when_the_database_is_unreachable(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_readyz_failure_is_logged_as_json(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.get("/readyz")

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert {
        "level": "WARNING",
        "message": "database unreachable",
        "error": "OperationalError",
    }.items() <= next(r for r in records if r["message"] == "database unreachable").items()
