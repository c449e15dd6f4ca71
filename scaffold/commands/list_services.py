"""`scaffold list`: the services of the ecosystem, their template versions and whether newer ones exist."""

from __future__ import annotations

from pathlib import Path

from scaffold import ecosystem_file
from scaffold.errors import NotFoundError
from scaffold.model import Ecosystem
from scaffold.project import find_root, reading
from scaffold.results import ListResult, TemplateStatus
from scaffold.template_repo import parse_version


def _latest(root: Path, source: str) -> str | None:
    """The newest version of a source: the store, the shipped templates, or the source's tags."""
    from scaffold.templates import BUILTIN, library

    try:
        newest = library(source, root, remote=source != BUILTIN).latest()
    except NotFoundError:  # unreachable source: what the meta-project stores is all we know
        newest = None
    return newest.version if newest is not None else None


def drift(root: Path, ecosystem: Ecosystem) -> tuple[TemplateStatus, ...]:
    entries = [(ecosystem.name, ecosystem.template), *((s.name, s.template) for s in ecosystem.services)]
    latest = {source: _latest(root, source) for source in {ref.source for _, ref in entries}}
    statuses = []
    for name, ref in entries:
        newest = latest[ref.source]
        current, best = parse_version(ref.version), parse_version(newest) if newest else None
        available = bool(current is not None and best is not None and best > current)
        statuses.append(TemplateStatus(name, ref.source, ref.version, newest, available))
    return tuple(statuses)


def list_services(start: Path) -> ListResult:
    root = find_root(start)
    with reading(root):  # a change a killed command left half done is finished or undone first
        ecosystem = ecosystem_file.load(root).model
    missing = tuple(s.name for s in ecosystem.services if not (root / s.path).is_dir())
    return ListResult(root=root, ecosystem=ecosystem, templates=drift(root, ecosystem), missing=missing)
