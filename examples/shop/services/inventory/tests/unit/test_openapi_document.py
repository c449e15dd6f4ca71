"""openapi.json is the API this service publishes, committed so that it can be reviewed, diffed
and read without running the service: the ecosystem's `scaffold check` compares the backends'
documents (the same schema name defined differently, the same path twice behind the gateway).
After changing the API: `UPDATE_OPENAPI=1 pytest tests/unit/test_openapi_document.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from inventory.app import create_app
from inventory.settings import Settings

pytestmark = pytest.mark.unit

PUBLISHED = Path(__file__).resolve().parents[2] / "openapi.json"


def test_the_published_document_is_the_apps(settings: Settings) -> None:
    document = create_app(settings).openapi()
    if os.environ.get("UPDATE_OPENAPI") == "1":
        PUBLISHED.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert published == document, "not the app's API: UPDATE_OPENAPI=1 pytest " + __file__
