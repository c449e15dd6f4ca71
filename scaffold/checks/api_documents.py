"""The backends' API documents against each other (`scaffold check`, check `api`).

The gateway shows one API document of every backend (`/api/docs`, scaffold.wiring.api_docs): each
backend's paths under its route, the components of all of them in one place. Two backends that
define a component of the same name differently (a schema `Item` of two shapes), or publish the
same method and path once their routes are put in front, make that document ambiguous: the page
keeps both components under `<service>_<name>`, but a client generated from the merged document,
and a reader, see two meanings for one name. Warnings, not errors: each backend works on its own.

The documents are the backends' committed `openapi.json` (their own suite keeps it the app's);
a backend without one is not compared.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from scaffold.checks.findings import Finding
from scaffold.errors import ScaffoldError
from scaffold.model import Ecosystem
from scaffold.paths import inside
from scaffold.wiring.api_docs import documented

DOCUMENT: Final = "openapi.json"
MAX_BYTES: Final = 5 << 20
METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Published:
    service: str
    prefix: str
    file: str  # relative to the meta-project
    document: dict[str, Any]


def _read(root: Path, service: str, prefix: str, relative: str) -> Published | Finding | None:
    try:
        path = inside(root, relative, "API document")
    except ScaffoldError as err:
        return Finding("warning", err.message, relative)
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(mode):
        return Finding("warning", "is not a regular file (a link is not followed): not compared", relative)
    if os.path.getsize(path) > MAX_BYTES:
        return Finding("warning", f"is larger than {MAX_BYTES >> 20} MiB: not compared", relative)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        return Finding("warning", f"is not a JSON document ({type(err).__name__}): not compared", relative)
    if not isinstance(document, dict):
        return Finding("warning", "is not an OpenAPI document (not an object): not compared", relative)
    return Published(service, prefix, relative, document)


def _entries(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def conflicts(published: list[Published]) -> list[Finding]:
    """Components of one name with different definitions, and the same method and full path twice."""
    found: list[Finding] = []
    components: dict[tuple[str, str], tuple[str, Any]] = {}
    operations: dict[tuple[str, str], str] = {}
    for api in published:
        for section, entries in _entries(api.document.get("components")).items():
            for name, definition in _entries(entries).items():
                first = components.setdefault((section, name), (api.service, definition))
                if first[0] != api.service and first[1] != definition:
                    message = (
                        f"components.{section}.{name} is defined differently by '{first[0]}': the gateway's "
                        f"API document shows it as {api.service}_{name}"
                    )
                    found.append(Finding("warning", message, api.file))
        for path, item in _entries(api.document.get("paths")).items():
            full = api.prefix + path
            for method in METHODS:
                if method not in _entries(item):
                    continue
                first_service = operations.setdefault((method, full), api.service)
                if first_service != api.service:
                    message = f"{method.upper()} {full} is also published by '{first_service}'"
                    found.append(Finding("warning", message, api.file))
    return found


def problems(root: Path, ecosystem: Ecosystem) -> list[Finding]:
    found: list[Finding] = []
    published: list[Published] = []
    for service, prefix in documented(ecosystem):
        read = _read(root, service.name, prefix, f"{service.path}/{DOCUMENT}")
        if isinstance(read, Finding):
            found.append(read)
        elif read is not None:
            published.append(read)
    return found + conflicts(published)
