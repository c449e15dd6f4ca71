"""`scaffold sync`: re-derive every wired file from ecosystem.yaml."""

from __future__ import annotations

from pathlib import Path

from scaffold import ecosystem_file
from scaffold.project import find_root, locked
from scaffold.results import SyncResult
from scaffold.transaction import Transaction
from scaffold.wiring_apply import changes, plan_wiring, stage_wiring


def sync(start: Path, *, dry_run: bool) -> SyncResult:
    root = find_root(start)
    with locked(root):
        ecosystem = ecosystem_file.load(root).model
        files, wiring = plan_wiring(root, ecosystem)
        found = changes(root, wiring)
        if found and not dry_run:
            with Transaction(root) as tx:
                stage_wiring(tx, files, wiring)
        return SyncResult(root=root, wiring=found, dry_run=dry_run)
