"""One API document of every backend at the gateway (issue 14, item 3), without a browser: the
vendored Swagger UI is the pinned npm package's, byte for byte; the meta-project gets it and a page
listing every routed backend; each backend runs behind its prefix (ROOT_PATH) in compose; `scaffold
check` warns when two backends publish the same schema name with different definitions, or the
same path. The page itself is driven in Chromium by tests/test_gateway_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaffold.checks.api_documents import Published, conflicts
from scaffold.model import API_DOCS_PATH
from scaffold.wiring import api_docs, derive
from tests.helpers import scaffold
from tests.test_check import check, findings
from tests.test_wiring import backend, frontend, make_ecosystem

PIN = json.loads((api_docs.vendor_dir() / "PIN.json").read_text())


def test_the_vendored_swagger_ui_is_the_pinned_package() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", PIN["version"]) and PIN["integrity"].startswith("sha512-")
    base64.b64decode(PIN["integrity"].removeprefix("sha512-"), validate=True)
    for name, sha256 in PIN["files"].items():
        assert hashlib.sha256((api_docs.vendor_dir() / name).read_bytes()).hexdigest() == sha256, name
    assert set(api_docs.ASSETS) <= set(PIN["files"])


def test_the_gateway_serves_the_page_and_the_assets_from_the_meta_project() -> None:
    eco = make_ecosystem((backend("orders", 8001), backend("inventory", 8002), frontend("web", 8003)))
    files = {f.path: f.content for f in derive(eco)}
    for name in api_docs.ASSETS:
        assert files[f"{api_docs.DIRECTORY}/{name}"] == (api_docs.vendor_dir() / name).read_bytes()
    script = files[f"{api_docs.DIRECTORY}/api-docs.js"].decode()
    listed = json.loads(re.search(r"^const APIS = (.*);$", script, re.M).group(1))  # type: ignore[union-attr]
    assert listed == [
        {"service": "inventory", "prefix": "/api/inventory"},
        {"service": "orders", "prefix": "/api/orders"},
    ]
    page = files[f"{api_docs.DIRECTORY}/index.html"].decode()
    assert re.findall(r'(?:src|href)="([^"]+)"', page) == ["swagger-ui.css", "swagger-ui-bundle.js", "api-docs.js"]
    compose = yaml.safe_load(files["compose.yaml"])
    gateway = compose["services"]["gateway"]
    assert f"./{api_docs.DIRECTORY}:{api_docs.MOUNT}:ro" in gateway["volumes"]
    for name in ("orders", "inventory"):
        assert compose["services"][name]["environment"]["ROOT_PATH"] == f"/api/{name}"
    assert "ROOT_PATH" not in compose["services"]["web"]["environment"]


def test_without_a_backend_there_is_no_api_document() -> None:
    eco = make_ecosystem((frontend("web", 8003),))
    files = {f.path: f.content for f in derive(eco)}
    assert not any(path.startswith(api_docs.DIRECTORY) for path in files)
    assert API_DOCS_PATH.encode() not in files["gateway/nginx.conf"]


# --- scaffold check: conflicting documents ------------------------------------------------------


def published(service: str, schemas: dict[str, Any], paths: tuple[str, ...] = ("/items",)) -> Published:
    document = {"paths": {p: {"get": {}} for p in paths}, "components": {"schemas": schemas}}
    return Published(service, f"/api/{service}", f"services/{service}/openapi.json", document)


ITEM = {"type": "object", "properties": {"id": {"type": "integer"}}}


def test_the_same_schema_alike_in_two_backends_is_no_conflict() -> None:
    assert conflicts([published("orders", {"Item": ITEM}), published("inventory", {"Item": dict(ITEM)})]) == []


def test_a_schema_name_defined_differently_is_a_warning() -> None:
    other = {"type": "object", "properties": {"sku": {"type": "string"}}}
    (found,) = conflicts([published("inventory", {"Item": ITEM}), published("orders", {"Item": other})])
    assert found.severity == "warning" and found.file == "services/orders/openapi.json"
    assert "components.schemas.Item is defined differently by 'inventory'" in found.message


def test_the_same_path_behind_the_gateway_is_a_warning() -> None:
    orders = published("orders", {}, ("/v2/items",))
    nested = Published("orders-v2", "/api/orders/v2", "services/orders-v2/openapi.json", published("x", {}).document)
    (found,) = conflicts([orders, nested])
    assert found.message == "GET /api/orders/v2/items is also published by 'orders'"


@pytest.fixture(scope="module")
def two_backends(tmp_path_factory: pytest.TempPathFactory, pristine_ecosystem: Path) -> Path:
    root = tmp_path_factory.mktemp("api") / "shop"
    shutil.copytree(pristine_ecosystem, root, symlinks=True)
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    scaffold("new", "backend", "inventory", "--defaults", cwd=root)
    return root


def test_check_warns_about_conflicting_backend_documents(two_backends: Path) -> None:
    code, report, _ = check(two_backends, "--no-checkov")
    assert code == 0 and findings(report, "ecosystem", "api") == []  # the template's backends agree
    document_path = two_backends / "services" / "inventory" / "openapi.json"
    document = json.loads(document_path.read_text())
    document["components"]["schemas"]["ItemRead"]["properties"]["sku"] = {"type": "string"}
    document_path.write_text(json.dumps(document))
    code, report, _ = check(two_backends, "--no-checkov")
    (found,) = findings(report, "ecosystem", "api")
    assert code == 0 and report["warnings"] >= 1  # a warning: both backends still work
    assert found["file"] == "services/orders/openapi.json"  # the second by name; its twin is named
    assert found["message"].startswith("components.schemas.ItemRead is defined differently by 'inventory'")
