"""Every error is a Problem (RFC 9457) with the trace id, and the OpenAPI document says so."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.unit

PROBLEM = "application/problem+json"


def test_an_unreachable_database_is_503_problem_with_the_trace_id(client: TestClient) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"

    response = client.get("/items", headers={"traceparent": traceparent})

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) > 0
    assert response.json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the database is unavailable, try again later",
        "instance": "/items",
        "trace_id": trace_id,
    }


def test_an_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/no/such/path")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "Not Found"


def test_a_bug_is_a_500_problem_that_tells_nothing_of_its_cause(client: TestClient) -> None:
    @client.app.get("/broken")  # type: ignore[attr-defined, untyped-decorator]
    def broken() -> None:
        raise RuntimeError("secret internals")

    with TestClient(client.app, raise_server_exceptions=False) as plain:
        response = plain.get("/broken")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "an unexpected error occurred"
    assert "secret" not in response.text


def test_the_openapi_document_declares_the_problems(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    problem = document["components"]["schemas"]["Problem"]
    assert {"title", "status"} <= set(problem["required"])
    assert "trace_id" in problem["properties"]
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        if path.startswith("/items")
        for method, operation in methods.items()
    ]
    assert operations
    for path, method, operation in operations:
        for status in ("500", "503"):
            content = operation["responses"][status]["content"]
            assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, (
                path,
                method,
                status,
            )
