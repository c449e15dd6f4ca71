"""Derived files against ecosystem.yaml: each is what `scaffold sync` would write, byte for byte.

A file that differs is either out of date (it is what scaffold last wrote, ecosystem.yaml changed
since) or edited by hand (it is neither); files scaffold wrote that no longer belong are left over.
"""

from __future__ import annotations

from pathlib import Path

from scaffold.checks.findings import Finding
from scaffold.derived_state import RECORD, digest, on_disk, read_record, render_record
from scaffold.errors import UsageError
from scaffold.model import Ecosystem
from scaffold.wiring import derive

SYNC_HINT = (
    "Run `scaffold sync` to re-derive the files; a hand edit belongs in ecosystem.yaml instead "
    "(environments.<env>.values), or undo it with `git checkout -- FILE`."
)


def problems(root: Path, ecosystem: Ecosystem) -> list[Finding]:
    files = derive(ecosystem)
    try:
        record = read_record(root)
    except UsageError as err:
        return [Finding("error", err.message, RECORD)]
    found: list[Finding] = []
    for file in files:
        current = on_disk(root, file.path)
        if current == file.content:
            continue
        if current is None:
            found.append(Finding("error", "missing", file.path))
        elif record.get(file.path) == digest(current):
            found.append(Finding("error", "out of date with ecosystem.yaml", file.path))
        else:
            found.append(Finding("error", "edited by hand", file.path))
    derived_paths = {f.path for f in files}
    for path in sorted(set(record) - derived_paths):
        if on_disk(root, path) is not None:
            found.append(Finding("error", "left over: no longer derived from ecosystem.yaml", path))
    if not found and on_disk(root, RECORD) != render_record(files):
        found.append(Finding("error", "out of date with the derived files", RECORD))
    return found
