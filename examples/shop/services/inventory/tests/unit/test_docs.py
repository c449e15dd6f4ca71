"""The API document's page (/docs) comes from this service alone: Swagger UI's files are served at
/docs/assets from the pinned copy in swagger_ui/, every address on the page is on this host (under
ROOT_PATH behind the gateway), and nothing is asked of a CDN."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from inventory.app import create_app
from inventory.docs import ASSETS
from inventory.settings import Settings

pytestmark = pytest.mark.unit

PREFIX = "/api/inventory"
CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",)}


class Addresses(HTMLParser):
    """The addresses a page loads: its scripts, style sheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.found.append(value)


def loaded(page: str) -> list[str]:
    parser = Addresses()
    parser.feed(page)
    # The document Swagger UI fetches, from the inline script (`url: '...'`).
    parser.found += re.findall(r"\burl: '([^']*)'", page)
    return parser.found


@pytest.fixture(params=["", PREFIX], ids=["at-the-root", "behind-the-gateway"])
def served(settings: Settings, request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, str]]:
    prefix: str = request.param
    with TestClient(create_app(dataclasses.replace(settings, root_path=prefix))) as client:
        yield client, prefix


def test_the_page_loads_everything_from_this_service(served: tuple[TestClient, str]) -> None:
    client, prefix = served
    page = client.get("/docs")
    assert page.status_code == 200
    addresses = [a for a in loaded(page.text) if not a.startswith("data:")]
    assert sorted(addresses) == sorted(
        [
            f"{prefix}/docs/assets/swagger-ui-bundle.js",
            f"{prefix}/docs/assets/swagger-ui.css",
            f"{prefix}/openapi.json",
        ]
    )
    for address in addresses:
        parts = urlsplit(address)
        assert not parts.scheme, address
        assert not parts.netloc, address
        # The gateway strips the prefix: the service is asked for the rest.
        answer = client.get(address.removeprefix(prefix))
        assert answer.status_code == 200, address
        suffix = address[address.rfind(".") :]
        if suffix in CONTENT_TYPES:
            assert answer.headers["content-type"].split(";")[0] in CONTENT_TYPES[suffix]


def test_the_assets_are_the_pinned_swagger_ui(client: TestClient) -> None:
    pin = json.loads((ASSETS / "PIN.json").read_text())
    assert pin["package"] == "swagger-ui-dist"
    assert pin["license"] == "Apache-2.0"
    for name, sha256 in pin["files"].items():
        served = client.get(f"/docs/assets/{name}")
        assert served.status_code == 200, name
        assert hashlib.sha256(served.content).hexdigest() == sha256, name


def test_the_oauth2_redirect_page_is_served(client: TestClient) -> None:
    page = client.get("/docs/oauth2-redirect")
    assert page.status_code == 200
    assert loaded(page.text) == []  # inline: it loads nothing


def test_there_is_no_redoc_page_and_the_pages_are_not_in_the_document(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/docs")]


def test_nothing_outside_the_assets_is_served(client: TestClient) -> None:
    assert client.get("/docs/assets/../app.py").status_code == 404
    assert client.get("/docs/assets/%2e%2e/app.py").status_code == 404
