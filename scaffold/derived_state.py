"""What scaffold last wrote of the derived files, to tell a hand edit from its own output.

`.scaffold/derived.json` maps each derived path to the sha256 of the bytes scaffold wrote (for a
symlink, of its target). Before writing derived files again, every file on disk is compared with
that record: a difference means someone edited it, and the command stops instead of losing it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scaffold.errors import ConflictError, UsageError
from scaffold.model import DERIVED_ENTRIES
from scaffold.paths import OutsideRootError, parts
from scaffold.project import STATE_DIR
from scaffold.wiring import DerivedFile

RECORD: Final = f"{STATE_DIR}/derived.json"


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def on_disk(root: Path, relative: str) -> bytes | None:
    """The bytes at `relative` (a symlink's target for links), or None when absent."""
    path = root / relative
    if path.is_symlink():
        return os.readlink(path).encode()
    if path.is_file():
        return path.read_bytes()
    if path.exists():
        return b"\0directory"
    return None


def read_record(root: Path) -> dict[str, str]:
    path = root / RECORD
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        files = record["files"]
        assert isinstance(files, dict)
        for relative in files:
            # read from disk: a path, not a way out, and one the wiring derives (never a service's
            # file, ecosystem.yaml or git's state, which sync would delete as left over)
            if parts(str(relative), "path in the derived record")[0] not in DERIVED_ENTRIES:
                raise ValueError(relative)
        return {str(k): str(v) for k, v in files.items()}
    except (ValueError, KeyError, AssertionError, TypeError, OutsideRootError):
        raise UsageError(f"{RECORD} is corrupt.", f"Restore it from git (`git checkout -- {RECORD}`).") from None


def render_record(files: tuple[DerivedFile, ...]) -> bytes:
    record = {"files": {f.path: digest(f.content) for f in files}}
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


@dataclass(frozen=True)
class Plan:
    """Which derived files change, which go away, and which already match."""

    write: tuple[DerivedFile, ...]
    delete: tuple[str, ...]
    unchanged: tuple[str, ...]


def plan(root: Path, files: tuple[DerivedFile, ...]) -> Plan:
    """Compare the derived files with the disk; stop when one was edited by hand."""
    record = read_record(root)
    edited: list[str] = []
    write: list[DerivedFile] = []
    unchanged: list[str] = []
    for file in files:
        current = on_disk(root, file.path)
        if current == file.content:
            unchanged.append(file.path)
            continue
        if current is not None and (file.path not in record or digest(current) != record[file.path]):
            edited.append(file.path)
        write.append(file)
    derived_paths = {f.path for f in files}
    delete: list[str] = []
    for path, recorded in sorted(record.items()):
        if path in derived_paths:
            continue
        current = on_disk(root, path)
        if current is None:
            continue
        if digest(current) != recorded:
            edited.append(path)
        delete.append(path)
    if edited:
        names = ", ".join(sorted(edited))
        raise ConflictError(
            f"Derived file{'s' if len(edited) > 1 else ''} edited by hand: {names}; nothing was changed.",
            "These files are generated from ecosystem.yaml: move the change into ecosystem.yaml "
            "(e.g. environments.<env>.values) or undo it with `git checkout -- <file>`, then run again.",
        )
    return Plan(write=tuple(write), delete=tuple(delete), unchanged=tuple(unchanged))
