from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def unique_name() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_readyz_is_ok_with_the_database(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_create_then_read(client: TestClient) -> None:
    name = unique_name()

    created = client.post("/items", json={"name": name, "description": "made by a test"})

    assert created.status_code == 201
    body = created.json()
    assert body["name"] == name
    assert body["description"] == "made by a test"
    assert isinstance(body["id"], int)
    assert body["created_at"]
    read = client.get(f"/items/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body


def test_list_contains_created_items(client: TestClient) -> None:
    names = {unique_name() for _ in range(3)}
    ids = {client.post("/items", json={"name": name}).json()["id"] for name in names}

    listed: list[dict[str, int]] = []
    offset = 0
    while page := client.get("/items", params={"limit": 100, "offset": offset}).json():
        listed += page
        offset += len(page)

    assert ids <= {item["id"] for item in listed}
    assert [item["id"] for item in listed] == sorted(item["id"] for item in listed)


def test_duplicate_name_is_a_conflict(client: TestClient) -> None:
    name = unique_name()
    assert client.post("/items", json={"name": name}).status_code == 201

    response = client.post("/items", json={"name": name})

    assert response.status_code == 409


def test_missing_item_is_404(client: TestClient) -> None:
    assert client.get("/items/999999999999").status_code == 404


@pytest.mark.parametrize(
    "payload", [{}, {"name": ""}, {"name": "x" * 201}, {"name": "ok", "unknown": 1}]
)
def test_invalid_payloads_are_rejected(client: TestClient, payload: dict[str, object]) -> None:
    assert client.post("/items", json=payload).status_code == 422
