"""The API's routes take a bearer token of the issuer; probes and the API document do not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inventory.app import create_app
from inventory.settings import Settings
from inventory.tokens import TokenSettings, TokenVerifier

from ..issuer import AUDIENCE, ISSUER, Issuer

pytestmark = pytest.mark.unit


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def protected(settings: Settings, issuer: Issuer) -> Iterator[TestClient]:
    auth = TokenSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://issuer.test/jwks")

    def fetch(url: str, timeout: float) -> dict[str, Any]:
        return issuer.jwks()

    app = create_app(settings, token_verifier=TokenVerifier(auth, fetch=fetch))
    with TestClient(app) as client:
        yield client


def test_a_route_without_a_token_is_a_401_problem(protected: TestClient) -> None:
    response = protected.get("/items")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"] == "a bearer token is required"


def test_an_invalid_token_is_a_401_saying_why(protected: TestClient, issuer: Issuer) -> None:
    token = issuer.token(aud="another-api")
    response = protected.post(
        "/items", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "audience" in response.json()["detail"]
    assert token not in response.text


def test_a_valid_token_reaches_the_route(protected: TestClient, issuer: Issuer) -> None:
    response = protected.get("/items", headers={"Authorization": f"Bearer {issuer.token()}"})
    assert response.status_code == 503  # past the token: the (unreachable) database answers


@pytest.mark.parametrize(
    "path",
    [
        "/livez",
        "/docs",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/oauth2-redirect",
        "/openapi.json",
    ],
)
def test_probes_and_the_api_document_are_public(protected: TestClient, path: str) -> None:
    assert protected.get(path).status_code == 200


def test_the_api_document_declares_the_bearer_scheme_and_the_401(protected: TestClient) -> None:
    document = protected.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    listing = document["paths"]["/items"]["get"]
    assert listing["security"] == [{"HTTPBearer": []}]
    assert "401" in listing["responses"]
    assert "security" not in document["paths"]["/livez"]["get"]


def test_without_an_issuer_nothing_is_verified(client: TestClient) -> None:
    assert client.get("/items").status_code == 503
