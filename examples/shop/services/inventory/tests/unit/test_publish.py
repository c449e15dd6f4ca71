from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.unit


def test_publishing_without_amqp_url_is_503_with_a_problem(client: TestClient) -> None:
    response = client.post("/items/1/publish")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "AMQP_URL" in response.json()["detail"]
