"""Behind the gateway's prefix (ROOT_PATH, e.g. /api/orders; the gateway strips it): the API
document's page asks for <prefix>/openapi.json and the document's servers say <prefix>, so the
page and its "Try it out" work through the gateway; requests arrive without the prefix."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orders.app import create_app
from orders.settings import Settings, SettingsError

pytestmark = pytest.mark.unit

PREFIX = "/api/orders"


@pytest.fixture
def behind_gateway(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(dataclasses.replace(settings, root_path=PREFIX))) as client:
        yield client


def test_the_docs_page_asks_for_the_document_under_the_prefix(behind_gateway: TestClient) -> None:
    page = behind_gateway.get("/docs")
    assert page.status_code == 200
    assert f"'{PREFIX}/openapi.json'" in page.text


def test_the_document_names_the_prefix_as_its_server(behind_gateway: TestClient) -> None:
    document = behind_gateway.get("/openapi.json").json()
    assert document["servers"] == [{"url": PREFIX}]
    assert "/items" in document["paths"]  # paths stay relative to the server


def test_requests_arrive_with_the_prefix_stripped(behind_gateway: TestClient) -> None:
    assert behind_gateway.get("/livez").status_code == 200


def _environment(settings: Settings, **more: str) -> dict[str, str]:
    """The settings the service cannot start without, plus `more`."""
    required = {"DATABASE_URL": settings.database_url}
    return {**required, **more}


def test_root_path_comes_from_the_environment(settings: Settings) -> None:
    assert Settings.from_env(_environment(settings, ROOT_PATH=f"{PREFIX}/")).root_path == PREFIX
    assert Settings.from_env(_environment(settings)).root_path == ""


@pytest.mark.parametrize("value", ["api/x", "/api/x?y", "/api x", "/api/<script>"])
def test_a_root_path_that_is_not_a_path_prefix_is_refused(settings: Settings, value: str) -> None:
    with pytest.raises(SettingsError, match="ROOT_PATH"):
        Settings.from_env(_environment(settings, ROOT_PATH=value))
