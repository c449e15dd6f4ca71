"""`scaffold changes --since COMMIT [--delivered FILE]`: the services whose images must be built
(scaffold.delivery.changes); the pipeline builds, tests and pushes those only."""

from __future__ import annotations

from pathlib import Path

from scaffold import ecosystem_file
from scaffold.delivery.changes import changed
from scaffold.project import find_root, reading
from scaffold.results import ChangesResult


def changes(start: Path, since: str, delivered: Path | None) -> ChangesResult:
    root = find_root(start)
    with reading(root):
        ecosystem = ecosystem_file.load(root).model
    if delivered is not None and not delivered.is_absolute():
        delivered = start / delivered
    reasons = changed(root, ecosystem, since, delivered)
    return ChangesResult(root=root, since=since, services=tuple(reasons), reasons=reasons)
