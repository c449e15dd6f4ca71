"""`scaffold update`'s summary for people: a table per target, then what needs attention."""

from __future__ import annotations

from scaffold.results import TargetUpdate, UpdateResult

_DONE = {"updated": "updated", "up-to-date": "up to date", "conflicts": "CONFLICTS", "failed": "FAILED"}
_WOULD = {"updated": "would update", "up-to-date": "up to date", "conflicts": "CONFLICTS", "failed": "FAILED"}


def _versions(target: TargetUpdate) -> str:
    if target.from_version and target.to_version and target.from_version != target.to_version:
        return f"{target.from_version} -> {target.to_version}"
    return target.from_version or target.to_version or "-"


def _detail(target: TargetUpdate) -> str:
    if target.status == "failed":
        return target.reason or ""
    if target.status == "conflicts":
        return "conflicts in " + ", ".join(target.conflicts)
    if target.changes:
        return f"{len(target.changes)} files" + (f", {target.migrations} migrations" if target.migrations else "")
    return ""


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def lines(result: UpdateResult) -> list[str]:
    words = _WOULD if result.dry_run else _DONE
    out: list[str] = []
    if result.dry_run:
        for target in result.targets:
            if target.diff:
                out += [f"--- {target.name} ({target.path}) ---", target.diff.rstrip("\n"), ""]
    rows = [["NAME", "PATH", "TEMPLATE", "RESULT", "DETAIL"]]
    rows += [[t.name, t.path, _versions(t), words[t.status], _detail(t)] for t in result.targets]
    out += _table(rows)
    for target in result.targets:
        out += [f"  {target.name}: kept {p} (the new template deletes it; it was edited here)" for p in target.kept]
        out += [f"  {target.name}: {p} stays deleted (the template changed it)" for p in target.not_restored]
        out += [
            f"  {target.name}: a file/directory conflict; your side is kept, the template's is in {aside}"
            for aside in target.set_aside
        ]
    if result.wiring:
        out.append(f"Wiring re-derived: {len(result.wiring)} files.")
    out += [f"note: {n}" for n in result.notes]
    conflicted = [t for t in result.targets if t.status == "conflicts"]
    if conflicted and not result.dry_run and result.conflicts_in_git:
        out.append(
            "Resolve the conflict markers (and the files set aside as ~template-...), `git add` the files, then "
            "commit; git refuses to commit them until then."
        )
    elif conflicted and not result.dry_run:
        out.append(
            "Apply or discard the hunks of each .rej file and the files set aside as ~template-..., delete them, "
            "then commit (git does not know about these conflicts: `git status` shows the .rej files as untracked)."
        )
    elif not result.dry_run and any(t.status == "updated" for t in result.targets):
        out.append("Review the changes (`git diff`), run the tests, then commit.")
    if result.dry_run:
        out.append("Dry run: nothing was written.")
    return out
