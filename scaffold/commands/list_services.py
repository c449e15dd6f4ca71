"""`scaffold list`: the services of the ecosystem, their template versions and whether newer ones exist.

`--outdated` makes it the drift gate for CI (as `copier check-update` and `cruft check` are): the
command line exits 8 when a service or the meta-project is behind its template's newest version.
"""

from __future__ import annotations

from pathlib import Path

from scaffold import ecosystem_file
from scaffold.errors import ExitCode, NotFoundError, ScaffoldError
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


def list_services(start: Path, *, outdated: bool = False) -> ListResult:
    root = find_root(start)
    with reading(root):  # a change a killed command left half done is finished or undone first
        ecosystem = ecosystem_file.load(root).model
    missing = tuple(s.name for s in ecosystem.services if not (root / s.path).is_dir())
    return ListResult(
        root=root, ecosystem=ecosystem, templates=drift(root, ecosystem), missing=missing, outdated_only=outdated
    )


class Outdated(ScaffoldError):
    exit_code = ExitCode.OUTDATED


def gate(result: ListResult) -> ScaffoldError | None:
    """Why the drift gate fails (behind: exit 8; a source that cannot be read: exit 3), or None."""
    if result.behind:
        names = ", ".join(f"{t.name} ({t.version} -> {t.latest})" for t in result.behind)
        return Outdated(
            f"{len(result.behind)} behind the newest template version: {names}.",
            "Run `scaffold update --all`, review and commit; the template-update workflow opens pull requests for it.",
        )
    if result.unknown:
        sources = ", ".join(sorted({t.source for t in result.unknown}))
        return NotFoundError(
            f"The template source {sources} cannot be read, so drift is not known.",
            "Check the URL and the access to it (`git ls-remote --tags SOURCE`).",
        )
    return None
