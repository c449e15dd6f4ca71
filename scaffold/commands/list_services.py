"""`scaffold list`: the services of the ecosystem."""

from __future__ import annotations

from pathlib import Path

from scaffold import ecosystem_file
from scaffold.project import find_root
from scaffold.results import ListResult


def list_services(start: Path) -> ListResult:
    root = find_root(start)
    return ListResult(root=root, ecosystem=ecosystem_file.load(root).model)
