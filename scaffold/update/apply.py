"""Writing the plans of an update run into the meta-project, all at once.

One transaction writes every target's changed files, `ecosystem.yaml` with the new template
versions, the template store (the new versions added) and the re-derived wiring; any failure puts
every path back. Files left with conflict markers are then recorded in the git index as unmerged
(stages 1/2/3, as `git merge` would), so `git commit` refuses them until they are resolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold import ecosystem_file
from scaffold.errors import ScaffoldError
from scaffold.results import Change
from scaffold.template_repo import git
from scaffold.transaction import Transaction
from scaffold.update.merge import Conflict, Labels, merge_text
from scaffold.update.plan import META, FileChange, Plan
from scaffold.wiring_apply import changes as wiring_changes
from scaffold.wiring_apply import plan_wiring, stage_wiring


@dataclass(frozen=True)
class Place:
    """Where a target's files live: its git work tree and its path inside it."""

    repo: Path
    subdir: str

    def git_path(self, relative: str) -> str:
        return f"{self.subdir}/{relative}" if self.subdir else relative


def root_path(location: str, relative: str) -> str:
    return relative if location in ("", META) else f"{location}/{relative}"


def with_versions(text: bytes, versions: Mapping[str, str], meta_version: str | None) -> bytes:
    """ecosystem.yaml's bytes with the template versions of the given services (and the meta-project)."""
    document = ecosystem_file.parse(text.decode("utf-8"))
    tree = document.tree
    for name, version in versions.items():
        tree["services"][name]["template"]["version"] = version
    if meta_version is not None:
        tree["template"]["version"] = meta_version
    return ecosystem_file.dump(tree) if (versions or meta_version) else text


@dataclass(frozen=True)
class Applied:
    wiring: tuple[Change, ...]
    notes: tuple[str, ...]


def apply(
    root: Path,
    plans: Sequence[Plan],
    places: Mapping[str, Place],
    versions: Mapping[str, str],
    meta_version: str | None,
    stores: Sequence[tuple[str, bytes]],
    *,
    mark_conflicts: bool,
) -> Applied:
    """Write `plans` (those with changes), the versions into ecosystem.yaml, the stores and the wiring."""
    notes: list[str] = []
    current = (root / ecosystem_file.FILE_NAME).read_bytes()
    text = current
    meta_plan = next((p for p in plans if p.location == META and p.changes), None)
    if meta_plan is not None:
        merged = next((c.entry for c in meta_plan.changes if c.path == ecosystem_file.FILE_NAME), None)
        if merged is not None:
            text = merged.data
    try:
        text = with_versions(text, versions, meta_version)
        model = ecosystem_file.parse(text.decode("utf-8")).model
    except ScaffoldError:
        model = None
        remerged = _conflicted_with_versions(meta_plan, versions, meta_version)
        if remerged is not None:
            text = remerged
            notes.append(
                f"{ecosystem_file.FILE_NAME} has conflicts to resolve (the new template versions are recorded in it); "
                "the wiring was not re-derived: resolve the conflicts, then run `scaffold sync` and commit."
            )
        else:
            notes.append(
                f"{ecosystem_file.FILE_NAME} has conflicts to resolve: the template versions were not recorded in "
                "it and the wiring was not re-derived; resolve it, commit, then run `scaffold update` and "
                "`scaffold sync`."
            )
    files, wiring = plan_wiring(root, model) if model is not None else ((), None)
    with Transaction(root) as tx:
        for plan in plans:
            # Deletions first, deepest first: a directory the template turns into a file is emptied
            # before the file is written, and a file it turns into a directory is gone before the
            # directory is made.
            deletions = sorted((c for c in plan.changes if c.entry is None), key=lambda c: c.path, reverse=True)
            for change in [*deletions, *(c for c in plan.changes if c.entry is not None)]:
                relative = root_path(plan.location, change.path)
                if relative != ecosystem_file.FILE_NAME:
                    _stage(tx, relative, change)
        if text != current:
            tx.write(ecosystem_file.FILE_NAME, text)
        for path, content in stores:
            tx.write(path, content)
        if wiring is not None:
            stage_wiring(tx, files, wiring)
    if mark_conflicts:
        for plan in plans:
            if plan.conflicts:
                mark_unmerged(places[plan.name], plan.conflicts, plan.changes)
    return Applied(wiring_changes(root, wiring) if wiring is not None else (), tuple(notes))


def _conflicted_with_versions(
    meta_plan: Plan | None, versions: Mapping[str, str], meta_version: str | None
) -> bytes | None:
    """The meta-project's conflicted ecosystem.yaml merged again with the new versions recorded.

    The versions are written into the committed side (ours), which parses, and the three-way
    merge is redone: a service's version lives in `services`, which only ours has, and the
    meta-project's own version then equals the template's, so neither can add a conflict. None
    when the conflict is not a text merge this can redo.
    """
    conflict = next((c for c in (meta_plan.conflicts if meta_plan else ()) if c.path == ecosystem_file.FILE_NAME), None)
    if meta_plan is None or conflict is None or conflict.ours is None or conflict.theirs is None:
        return None
    try:
        ours = with_versions(conflict.ours.data, versions, meta_version)
    except ScaffoldError:
        return None
    labels = Labels.of_update(meta_plan.name, meta_plan.old_version, meta_plan.new_version)
    base = conflict.base.data if conflict.base is not None else b""
    merged, _, _ = merge_text(ours, base, conflict.theirs.data, labels, "inline")
    return merged


def _stage(tx: Transaction, relative: str, change: FileChange) -> None:
    entry = change.entry
    if entry is None:
        tx.delete(relative)
    elif entry.is_link:
        tx.symlink(relative, entry.data.decode())
    else:
        tx.write(relative, entry.data, 0o755 if entry.mode == 0o100755 else 0o644)


def mark_unmerged(place: Place, conflicts: Sequence[Conflict], changes: Sequence[FileChange] = ()) -> None:
    """Record conflicted files as unmerged in the index: `git status` lists them, `git commit` refuses.
    The template's side of a file/directory conflict, set aside, is recorded as "added by them"."""
    lines: list[str] = []
    for conflict in conflicts:
        if conflict.aside is not None:
            aside = conflict.aside
            for change in changes:
                entry = change.entry
                if entry is not None and (change.path == aside or change.path.startswith(aside + "/")):
                    blob = git("hash-object", "-w", "--stdin", stdin=entry.data, cwd=place.repo).decode().strip()
                    lines.append(f"0 {'0' * 40}\t{place.git_path(change.path)}")
                    lines.append(f"{entry.mode:o} {blob} 3\t{place.git_path(change.path)}")
            continue
        path = place.git_path(conflict.path)
        lines.append(f"0 {'0' * 40}\t{path}")
        for stage, entry in ((1, conflict.base), (2, conflict.ours), (3, conflict.theirs)):
            if entry is not None:
                blob = git("hash-object", "-w", "--stdin", stdin=entry.data, cwd=place.repo).decode().strip()
                lines.append(f"{entry.mode:o} {blob} {stage}\t{path}")
    git("update-index", "--index-info", stdin=("\n".join(lines) + "\n").encode(), cwd=place.repo)
