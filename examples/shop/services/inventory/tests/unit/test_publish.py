from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.unit


def test_publishing_without_amqp_url_is_503_with_a_problem(client: TestClient) -> None:
    response = client.post("/items/1/publish")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    # Both ways of giving the URL are named: the chart gives it as a file (AMQP_URL_FILE).
    assert response.json()["detail"].endswith("set AMQP_URL or AMQP_URL_FILE")
