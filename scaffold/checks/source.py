"""ecosystem.yaml itself: its JSON Schema (scaffold/ecosystem.schema.json) and the rules between
services, each problem with its line and column."""

from __future__ import annotations

from scaffold import ecosystem_file
from scaffold.checks.findings import Finding


def problems(text: str, *, have_jsonschema: bool) -> list[Finding]:
    if have_jsonschema:
        found = ecosystem_file.problems(text)
    else:  # the rules scaffold's own parser applies, first problem only
        try:
            ecosystem_file.parse(text)
            found = []
        except ecosystem_file.EcosystemFileError as err:
            found = [err.problem]
    return [Finding("error", p.message, ecosystem_file.FILE_NAME, p.line, p.column) for p in found]
