"""The three-way merge of one target: the old template render (base), the service's committed
files (ours) and the new template render (theirs), path by path.

A path only one side changed takes that side; where both changed a text file, `git merge-file`
merges the lines and marks what it cannot (inline markers, or the service's version plus a `.rej`
file with the template's rejected hunks). Deletions follow the same rule: the template's deletion
of an untouched file applies, an edited file it deleted is kept and reported, and a file the
service deleted is never brought back.

A file/directory conflict (the template turns a directory the service added files to into a file,
or a file the service edited into a directory) is resolved as git does: the service keeps its
side exactly, and the template's side is set aside next to it as `<path>~template-<version>`.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scaffold.update.snapshot import Entry, Tree

ConflictStyle = Literal["inline", "rej"]


@dataclass(frozen=True)
class Labels:
    ours: str
    base: str
    theirs: str

    @classmethod
    def of_update(cls, name: str, old_version: str, new_version: str) -> Labels:
        """The conflict marker labels of an update of `name` from one template version to another."""
        return cls(ours=f"{name} (yours)", base=f"template {old_version}", theirs=f"template {new_version}")


@dataclass(frozen=True)
class Conflict:
    """A path both sides changed incompatibly, with its three versions (for the git index).

    `aside` is set for a file/directory conflict: where the template's side of `path` was put."""

    path: str
    base: Entry | None
    ours: Entry | None
    theirs: Entry | None
    aside: str | None = None


@dataclass
class MergeOutcome:
    tree: Tree
    conflicts: list[Conflict] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # deleted by the template, edited here: kept
    not_restored: list[str] = field(default_factory=list)  # deleted here, changed by the template


def _is_text(data: bytes) -> bool:
    return b"\0" not in data


def merge_text(
    ours: bytes, base: bytes, theirs: bytes, labels: Labels, style: ConflictStyle
) -> tuple[bytes, bytes | None, bool]:
    """(merged bytes, .rej bytes or None, conflicted?) of one text file, by `git merge-file`."""
    with tempfile.TemporaryDirectory(prefix="scaffold-merge-") as scratch:
        files = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(scratch, name)
            path.write_bytes(data)
            files.append(str(path))
        command = ["git", "merge-file", "-p", "-L", labels.ours, "-L", labels.base, "-L", labels.theirs]
        if style == "rej":
            command.append("--diff3")
        proc = subprocess.run([*command, *files], capture_output=True)
    if proc.returncode < 0 or proc.returncode > 127:
        raise OSError(f"git merge-file failed: {proc.stderr.decode(errors='replace').strip()}")
    if proc.returncode == 0:
        return proc.stdout, None, False
    if style == "inline":
        return proc.stdout, None, True
    kept, rejected = _split_rejects(proc.stdout, labels)
    return kept, rejected, True


def _split_rejects(merged: bytes, labels: Labels) -> tuple[bytes, bytes]:
    """From diff3 output: the file with every conflict resolved to ours, and the template's
    rejected hunks (base -> theirs) in unified diff form."""
    start, middle, split, end = (
        f"<<<<<<< {labels.ours}".encode(),
        f"||||||| {labels.base}".encode(),
        b"=======",
        f">>>>>>> {labels.theirs}".encode(),
    )
    out: list[bytes] = []
    hunks: list[bytes] = []
    section: str | None = None
    parts: dict[str, list[bytes]] = {}
    for line in merged.splitlines(keepends=True):
        bare = line.rstrip(b"\r\n")
        if section is None and bare == start:
            section, parts = "ours", {"ours": [], "base": [], "theirs": []}
        elif section == "ours" and bare == middle:
            section = "base"
        elif section in ("ours", "base") and bare == split:
            section = "theirs"
        elif section == "theirs" and bare == end:
            line_no = sum(chunk.count(b"\n") for chunk in out) + 1
            hunks.append(f"@@ -{line_no},{len(parts['base'])} +{line_no},{len(parts['theirs'])} @@\n".encode())
            hunks += [b"-" + _ends(x) for x in parts["base"]] + [b"+" + _ends(x) for x in parts["theirs"]]
            out += parts["ours"]
            section = None
        elif section is not None:
            parts[section].append(line)
        else:
            out.append(line)
    return b"".join(out), b"".join(hunks)


def _ends(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n"


def merge_trees(
    base: Tree,
    ours: Tree,
    theirs: Tree,
    *,
    labels: Labels,
    style: ConflictStyle,
    keep_ours: Callable[[str], bool] = lambda path: False,
) -> MergeOutcome:
    """Merge path by path; `keep_ours` names paths the template only creates (copier's `_skip_if_exists`)."""
    outcome = MergeOutcome(tree={})
    for path in sorted(base.keys() | ours.keys() | theirs.keys()):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        result = _merge_path(path, b, o, t, labels, style, keep_ours, outcome)
        if result is not None:
            outcome.tree[path] = result
    for path in file_directory_clashes(outcome.tree):
        set_aside(outcome, base, ours, theirs, path, labels)
    return outcome


def _under(path: str, tree: Tree) -> dict[str, Entry]:
    """The entry at `path` and every entry below it, as a directory."""
    return {p: e for p, e in tree.items() if p == path or p.startswith(path + "/")}


def file_directory_clashes(tree: Tree) -> list[str]:
    """Paths that are a file in `tree` while other paths of `tree` are inside them (no disk can hold both)."""
    clashes: set[str] = set()
    for path in tree:
        pieces = path.split("/")
        for end in range(1, len(pieces)):
            prefix = "/".join(pieces[:end])
            if prefix in tree:
                clashes.add(prefix)
                break
    return sorted(clashes)


def set_aside(outcome: MergeOutcome, base: Tree, ours: Tree, theirs: Tree, path: str, labels: Labels) -> None:
    """Resolve a file/directory conflict at `path`: the service's side stays as it is, the template's
    side goes to `<path>~<template label>` (a file, or a directory of its files), reported as a conflict."""
    for stale in _under(path, outcome.tree):
        del outcome.tree[stale]
    outcome.conflicts[:] = [c for c in outcome.conflicts if c.path not in _under(path, ours | theirs)]
    outcome.kept[:] = [p for p in outcome.kept if p not in _under(path, ours | theirs)]
    outcome.not_restored[:] = [p for p in outcome.not_restored if p not in _under(path, ours | theirs)]
    outcome.tree.update(_under(path, ours))
    aside = f"{path}~{labels.theirs.replace(' ', '-')}"
    while any(p == aside or p.startswith(aside + "/") for p in outcome.tree):
        aside += "~"
    for relative, entry in _under(path, theirs).items():
        outcome.tree[aside + relative[len(path) :]] = entry
    outcome.conflicts.append(Conflict(path, base.get(path), ours.get(path), theirs.get(path), aside=aside))


def _merge_path(
    path: str,
    b: Entry | None,
    o: Entry | None,
    t: Entry | None,
    labels: Labels,
    style: ConflictStyle,
    keep_ours: Callable[[str], bool],
    outcome: MergeOutcome,
) -> Entry | None:
    if keep_ours(path):  # a file the service owns (_skip_if_exists): as copier, kept, or made when missing
        return o if o is not None else t
    if o == t or b == t:
        return o
    if b == o:
        return t
    if t is None:
        outcome.kept.append(path)
        return o
    if o is None:
        outcome.not_restored.append(path)
        return None
    mode = t.mode if b is not None and b.mode == o.mode else o.mode
    if b is not None and b.data == o.data:
        return Entry(mode, t.data)
    if (b is not None and b.data == t.data) or o.data == t.data:
        return Entry(mode, o.data)
    if o.is_link or t.is_link or not (_is_text(o.data) and _is_text(t.data)):
        if style == "rej":  # no .rej can hold it and nothing goes to git: the template's side is put beside
            aside = f"{path}~{labels.theirs.replace(' ', '-')}"
            outcome.tree[aside] = t
            outcome.conflicts.append(Conflict(path, b, o, t, aside=aside))
        else:
            outcome.conflicts.append(Conflict(path, b, o, t))
        return o
    merged, rejected, conflicted = merge_text(o.data, b.data if b else b"", t.data, labels, style)
    if conflicted:
        outcome.conflicts.append(Conflict(path, b, o, t))
        if rejected is not None:
            header = f"--- a/{path}\n+++ b/{path}\n".encode()
            outcome.tree[f"{path}.rej"] = Entry(0o100644, header + rejected)
    return Entry(mode, merged)
