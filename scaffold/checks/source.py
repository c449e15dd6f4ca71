"""ecosystem.yaml itself, by the one validator every command applies (scaffold.ecosystem_rules): the
JSON Schema, the rules between services and those that need the disk, each problem with its line
and column."""

from __future__ import annotations

from pathlib import Path

from scaffold import ecosystem_file
from scaffold.checks.findings import Finding


def problems(text: str, root: Path) -> list[Finding]:
    found = ecosystem_file.problems(text, root)
    return [Finding("error", p.message, ecosystem_file.FILE_NAME, p.line, p.column) for p in found]
