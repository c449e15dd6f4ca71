"""What a proposal says: its commit message, the pull request's title and its body (the report).

The body is the per-target report of `scaffold update` as Markdown: a row per service (template
versions, result, files), then the conflicts to resolve, what was kept or stays deleted, notes,
and for the meta-project the pull requests of the services in their own repositories. Values are
put in code spans with backticks and table separators neutralised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from scaffold.proposals.branches import TRAILER
from scaffold.results import TargetUpdate

BODY_LIMIT: Final = 60_000  # GitHub refuses bodies over 65,536 characters
_RESULT: Final = {
    "updated": "updated",
    "up-to-date": "up to date",
    "conflicts": "**conflicts**",
    "failed": "**failed**",
}


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _versions(target: TargetUpdate) -> str:
    if target.from_version and target.to_version and target.from_version != target.to_version:
        return f"{target.from_version} → {target.to_version}"
    return target.to_version or target.from_version or "-"


def title(targets: Sequence[TargetUpdate]) -> str:
    versions = sorted({t.to_version for t in targets if t.to_version})
    conflicts = " (conflicts to resolve)" if any(t.status == "conflicts" for t in targets) else ""
    if len(versions) == 1:
        return f"Template update to {versions[0]}{conflicts}"
    return f"Template updates{conflicts}"


def commit_message(targets: Sequence[TargetUpdate]) -> str:
    lines = [title(targets), ""]
    lines += [f"- {t.name} ({t.path}): {_versions(t)}, {t.status}" for t in targets]
    lines += [
        "",
        "Made by `scaffold propose-updates`: a three-way merge that keeps the services' own edits.",
        "",
        TRAILER,
    ]
    return "\n".join(lines) + "\n"


def body(targets: Sequence[TargetUpdate], notes: Sequence[str], elsewhere: Sequence[tuple[str, str]] = ()) -> str:
    """`elsewhere`: (service, its pull request URL or what happened) for services in their own repositories."""
    lines = [
        "Template updates proposed by `scaffold propose-updates`: each target below was moved to a newer "
        "template version with a three-way merge, so its own edits are kept.",
        "",
        "| target | path | template | result | files |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_code(t.name)} | {_code(t.path)} | {_versions(t)} | {_RESULT[t.status]} | {len(t.changes)} |"
        for t in targets
    ]
    conflicts = [(t, path) for t in targets for path in t.conflicts]
    if conflicts:
        lines += ["", "### Conflicts to resolve", ""]
        lines += [f"- {_code(path)} ({t.name})" for t, path in conflicts]
        lines += [
            "",
            "The conflict markers are committed in these files (or a `.rej` file is next to them): check out "
            "this branch, resolve them, commit and push. A later run of the workflow then leaves the branch alone.",
        ]
    kept = [
        f"- {_code(p)} ({t.name}): the new template deletes it; it was edited here, so it is kept"
        for t in targets
        for p in t.kept
    ]
    gone = [
        f"- {_code(p)} ({t.name}): deleted here and changed by the template; it stays deleted"
        for t in targets
        for p in t.not_restored
    ]
    if kept or gone:
        lines += ["", "### Worth a look", "", *kept, *gone]
    failed = [t for t in targets if t.status == "failed"]
    if failed:
        lines += ["", "### Not updated", ""]
        lines += [f"- {_code(t.name)}: {t.reason or 'failed'}" for t in failed]
    if elsewhere:
        lines += ["", "### Services in their own repositories", ""]
        lines += [f"- {_code(name)}: {where}" for name, where in elsewhere]
        lines += ["", "This pull request records their new template versions: merge theirs first."]
    if notes:
        lines += ["", "### Notes", "", *(f"- {note}" for note in notes)]
    text = "\n".join(lines) + "\n"
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + "\n\n… (cut: `scaffold update --all --dry-run` shows the whole report)\n"
    return text
