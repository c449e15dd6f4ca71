"""`scaffold check`'s report for people: a table of checks per subject, the findings, what did not run.

Rendered with rich into text (scaffold.output prints it); colours only on a terminal.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections import Counter
from typing import TYPE_CHECKING

from scaffold.checks.findings import ECOSYSTEM, CheckRun
from scaffold.checks.runner import CHECKS
from scaffold.errors import ScaffoldError
from scaffold.results import CheckResult

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {"passed": "green", "warned": "yellow", "failed": "bold red", "skipped": "dim"}


def _cell(run: CheckRun) -> tuple[str, str]:
    counts = Counter(f.severity for f in run.findings)
    if run.status == "skipped":
        return "not run", _STYLE["skipped"]
    if run.status == "failed":
        n = counts["error"]
        return f"{n} error{'s' if n != 1 else ''}", _STYLE["failed"]
    if run.status == "warned":
        n = counts["warning"]
        return f"{n} warning{'s' if n != 1 else ''}", _STYLE["warned"]
    return "ok", _STYLE["passed"]


def _console(buffer: io.StringIO) -> Console:
    from rich.console import Console

    terminal = sys.stdout.isatty()
    return Console(
        file=buffer,
        width=shutil.get_terminal_size((120, 24)).columns if terminal else 200,
        force_terminal=terminal,
        color_system="standard" if terminal else None,
        highlight=False,
        soft_wrap=False,
    )


def render(result: CheckResult) -> str:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    runs = result.runs
    subjects = list(dict.fromkeys(r.subject for r in runs))
    checks = [c for c in CHECKS if any(r.check == c for r in runs)]
    matrix = Table(box=box.SIMPLE_HEAD, title=None, show_edge=False, pad_edge=False)
    matrix.add_column("SUBJECT", no_wrap=True)
    for check in checks:
        matrix.add_column(check.upper(), no_wrap=True)
    by_key = {(r.subject, r.check): r for r in runs}
    for subject in subjects:
        cells: list[Text] = [Text(subject, style="bold" if subject == ECOSYSTEM else "")]
        for check in checks:
            run = by_key.get((subject, check))
            cells.append(Text("") if run is None else Text(*_cell(run)))
        matrix.add_row(*cells)

    buffer = io.StringIO()
    console = _console(buffer)
    console.print(matrix)

    problems = [(r, f) for r in runs for f in r.findings if f.severity != "info"]
    if problems:
        findings = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("SUBJECT", "CHECK", "WHERE", "PROBLEM"):
            findings.add_column(column, overflow="fold", no_wrap=column != "PROBLEM")
        for run, finding in problems:
            style = {"error": "red", "warning": "yellow", "info": "dim"}[finding.severity]
            rule = f"{finding.rule} " if finding.rule else ""
            findings.add_row(run.subject, run.check, finding.location, Text(f"{rule}{finding.message}", style=style))
        console.print(findings)
        hints = list(dict.fromkeys(r.hint for r in runs if r.status in ("failed", "warned") and r.hint))
        for hint in hints:
            console.print(f"hint: {hint}", style="dim", soft_wrap=True)

    notes = dict.fromkeys((r.note, r.hint) for r in runs if r.note)
    for note, advice in notes:
        console.print(Text(f"{note}" + (f" — {advice}" if advice else ""), style="yellow"), soft_wrap=True)
    console.print(summary(result))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def summary(result: CheckResult) -> str:
    ran = len(result.runs) - result.not_run
    parts = [f"{result.errors} error{'s' if result.errors != 1 else ''}"]
    parts.append(f"{result.warnings} warning{'s' if result.warnings != 1 else ''}")
    text = f"{', '.join(parts)} in {ran} checks"
    if result.cached:
        text += f" ({result.cached} unchanged since they last ran, from the cache)"
    if result.not_run:
        text += f"; {result.not_run} not run (validators missing, see above)"
    return text + "."


def failure(result: CheckResult) -> ScaffoldError:
    """The one error line and hint that close a failed check."""
    failed = [r for r in result.runs if r.status == "failed"]
    where = ", ".join(dict.fromkeys(f"{r.subject} {r.check}" for r in failed))
    return ScaffoldError(
        f"scaffold check found {result.errors} error{'s' if result.errors != 1 else ''} ({where}).",
        "Fix what the table lists, then run `scaffold check` again; `--json` gives the same findings for tools.",
    )
