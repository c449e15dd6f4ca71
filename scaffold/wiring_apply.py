"""Deriving the wiring of an ecosystem and staging it into a transaction."""

from __future__ import annotations

from pathlib import Path

from scaffold.derived_state import RECORD, Plan, plan, render_record
from scaffold.model import Ecosystem
from scaffold.results import Change
from scaffold.transaction import Transaction
from scaffold.wiring import DerivedFile, derive


def plan_wiring(root: Path, ecosystem: Ecosystem) -> tuple[tuple[DerivedFile, ...], Plan]:
    """The derived files and what writing them changes; raises if one was edited by hand."""
    files = derive(ecosystem)
    return files, plan(root, files)


def changes(root: Path, wiring: Plan) -> tuple[Change, ...]:
    found = [
        Change(f.path, "update" if (root / f.path).exists() or (root / f.path).is_symlink() else "create")
        for f in wiring.write
    ]
    found += [Change(p, "delete") for p in wiring.delete]
    return tuple(sorted(found, key=lambda c: c.path))


def stage_wiring(tx: Transaction, files: tuple[DerivedFile, ...], wiring: Plan) -> None:
    for file in wiring.write:
        if file.symlink:
            tx.symlink(file.path, file.content.decode())
        else:
            tx.write(file.path, file.content)
    for path in wiring.delete:
        tx.delete(path)
    tx.write(RECORD, render_record(files))
