"""What a check reports: findings (one problem each, with where it is) and the run of a check."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

Severity = Literal["error", "warning", "info"]
Status = Literal["passed", "failed", "warned", "skipped"]

ECOSYSTEM: Final = "ecosystem"  # the subject of the checks that are not about one service


@dataclass(frozen=True)
class Finding:
    severity: Severity
    message: str
    file: str | None = None  # relative to the meta-project root
    line: int | None = None
    column: int | None = None
    rule: str | None = None  # the validator's rule id, e.g. DL3008 or CKV_K8S_21

    @property
    def location(self) -> str:
        if self.file is None:
            return ""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


@dataclass(frozen=True)
class CheckRun:
    """One check of one subject (a service, or the ecosystem as a whole)."""

    subject: str
    check: str  # ecosystem.yaml, derived, answers, compose, chart, dockerfile, checkov
    tool: str  # what ran, as a user would call it
    status: Status
    findings: tuple[Finding, ...] = ()
    note: str | None = None  # why it was skipped
    hint: str | None = None  # what to do about it
    seconds: float = 0.0
    cached: bool = False  # its findings come from the memo: none of its inputs changed since (checks/memo.py)


def status_of(findings: tuple[Finding, ...] | list[Finding]) -> Status:
    severities = {f.severity for f in findings}
    if "error" in severities:
        return "failed"
    if "warning" in severities:
        return "warned"
    return "passed"


def ran(
    subject: str,
    check: str,
    tool: str,
    findings: list[Finding],
    seconds: float,
    *,
    hint: str | None = None,
    note: str | None = None,
    cached: bool = False,
) -> CheckRun:
    ordered = tuple(dict.fromkeys(findings))  # identical findings once
    status = status_of(ordered)
    if status == "passed" and note is None:
        hint = None
    return CheckRun(
        subject, check, tool, status, ordered, note=note, hint=hint, seconds=round(seconds, 3), cached=cached
    )


def skipped(subject: str, check: str, tool: str, note: str, hint: str | None = None) -> CheckRun:
    return CheckRun(subject, check, tool, "skipped", note=note, hint=hint)


def merge_environments(per_environment: dict[str, list[Finding]]) -> list[Finding]:
    """One finding per problem, tagged with the environments it shows in unless it shows in all."""
    seen: dict[Finding, list[str]] = {}
    for environment, findings in per_environment.items():
        for finding in findings:
            seen.setdefault(finding, []).append(environment)
    merged: list[Finding] = []
    for finding, environments in seen.items():
        if len(environments) == len(per_environment):
            merged.append(finding)
        else:
            merged.append(replace(finding, message=f"[{', '.join(environments)}] {finding.message}"))
    return merged
