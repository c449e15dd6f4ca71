"""`scaffold check [NAME...]`: validate the ecosystem as it stands, hand edits included.

Data flow: find the meta-project -> hold its lock shared (no command changes it meanwhile; an
interrupted change is finished or undone first) -> run the checks (scaffold.checks.runner) ->
a CheckResult. The command only reads; `ok` is false when any check found an error.
"""

from __future__ import annotations

from pathlib import Path

from scaffold import cache as scaffold_cache
from scaffold import ecosystem_file
from scaffold.checks.runner import run
from scaffold.errors import NotFoundError, UsageError
from scaffold.progress import Progress
from scaffold.project import find_root, reading
from scaffold.results import CheckResult


def _check_names(root: Path, names: list[str]) -> None:
    if not names:
        return
    try:
        known = [s.name for s in ecosystem_file.load(root).model.services]
    except UsageError:
        return  # the schema check reports what is wrong with ecosystem.yaml
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NotFoundError(
            f"No service named {', '.join(repr(n) for n in unknown)} in this ecosystem.",
            f"Services: {', '.join(known) or 'none yet'}. Run `scaffold check` without names to check everything.",
        )


def check(
    start: Path,
    names: list[str],
    *,
    checkov: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
    cache: bool = True,
    clear_cache: bool = False,
) -> CheckResult:
    """`cache`: remembered findings stand in for checks whose inputs did not change (checks/memo.py);
    False reads and keeps nothing in scaffold's cache (neither check results nor ecosystem.yaml)."""
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: at least one check must run at a time.", "Example: --jobs 4")
    if not cache:
        scaffold_cache.disable()
    if clear_cache:
        scaffold_cache.clear("check")
    root = find_root(start)
    with reading(root):
        _check_names(root, names)
        runs = run(root, names, checkov_asked=checkov, jobs=jobs, progress=progress)
    errors = sum(1 for r in runs for f in r.findings if f.severity == "error")
    warnings = sum(1 for r in runs for f in r.findings if f.severity == "warning")
    not_run = sum(1 for r in runs if r.status == "skipped")
    cached = sum(1 for r in runs if r.cached)
    return CheckResult(
        root=root, ok=errors == 0, errors=errors, warnings=warnings, not_run=not_run, runs=runs, cached=cached
    )
