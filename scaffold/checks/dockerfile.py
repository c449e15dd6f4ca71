"""Dockerfiles through hadolint: `hadolint -f json --failure-threshold warning Dockerfile`.

hadolint's errors and warnings fail the check (its own threshold here); info and style notes are
reported as information.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Final

from scaffold.checks.findings import Finding

TIMEOUT: Final = 120


def hadolint(binary: str, dockerfile: Path, *, relative: str) -> list[Finding]:
    proc = subprocess.run(
        [binary, "-f", "json", "--failure-threshold", "warning", dockerfile.name],
        cwd=dockerfile.parent,  # hadolint reads a .hadolint.yaml next to the Dockerfile
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    try:
        issues = json.loads(proc.stdout or "[]")
    except ValueError:
        issues = None
    if not isinstance(issues, list):
        text = " ".join((proc.stdout + proc.stderr).split()) or f"hadolint exited with {proc.returncode}"
        return [Finding("error", text, relative)]
    found = [
        Finding(
            "error" if issue.get("level") in ("error", "warning") else "info",
            str(issue.get("message", "")),
            relative,
            int(issue["line"]) if issue.get("line") else None,
            int(issue["column"]) if issue.get("column") else None,
            str(issue.get("code")) if issue.get("code") else None,
        )
        for issue in issues
    ]
    if proc.returncode != 0 and not any(f.severity == "error" for f in found):
        found.append(Finding("error", " ".join(proc.stderr.split()) or f"hadolint exited {proc.returncode}", relative))
    return found
