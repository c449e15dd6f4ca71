"""The one place that prints: results as text for people or JSON for CI, errors as message + hint."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError
from scaffold.model import Service
from scaffold.prerequisites import ToolStatus
from scaffold.results import (
    AdoptResult,
    BuildResult,
    Change,
    ChangesResult,
    CheckResult,
    DeployResult,
    DiffResult,
    DoctorResult,
    GraphResult,
    InitResult,
    ListResult,
    NewResult,
    OnboardResult,
    Progress,
    ProposeResult,
    RemoveResult,
    Result,
    RollbackResult,
    RunTestsResult,
    StatusResult,
    SyncResult,
    TemplateStatus,
    UpdateResult,
)


def _changes(changes: tuple[Change, ...], dry_run: bool) -> list[str]:
    verbs = (
        {"create": "create", "update": "update", "delete": "delete"}
        if dry_run
        else {"create": "created", "update": "updated", "delete": "deleted"}
    )
    return [f"  {verbs[c.action]:8} {c.path}" for c in changes]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _missing_lines(missing: list[Service]) -> list[str]:
    """What to do about services whose directory is missing."""
    lines = []
    cloned = [s.name for s in missing if s.repository is not None]
    if cloned:
        lines.append(f"Not checked out: {', '.join(cloned)}; `scaffold update {' '.join(cloned)}` clones them.")
    lost = [s.name for s in missing if s.repository is None]
    if lost:
        lines.append(f"Missing: {', '.join(lost)}; restore from git, or `scaffold remove NAME` to unwire.")
    return lines


def text(result: Result) -> str:
    would = "Would " if getattr(result, "dry_run", False) else ""
    lines: list[str] = []
    match result:
        case InitResult():
            verb = "Would create" if result.dry_run else "Created"
            lines.append(f"{verb} the {result.ecosystem.name} ecosystem in {result.root}")
            lines += [f"  {f}" for f in result.files]
            if not result.dry_run:
                lines += ["", "Next:", f"  cd {result.root.name}", "  scaffold new backend orders --defaults"]
        case NewResult():
            s = result.service
            lines.append(
                f"{would}{'add' if would else 'Added'} {s.kind} '{s.name}' in {s.path} "
                f"(port {s.port}, route {s.route or 'none'})"
                + (" (dry run: nothing written)" if result.dry_run else "")
            )
            lines.append(f"  {len(result.files)} files in {s.path}/")
            lines.append("Wiring:")
            lines += _changes(result.wiring, result.dry_run)
            if not result.dry_run:
                lines += [
                    "",
                    "Next:",
                    f"  cd {s.path} && docker compose up --watch",
                    "  docker compose up   (at the root: the whole ecosystem)",
                ]
        case RemoveResult():
            s = result.service
            lines.append(
                f"{would}{'remove' if would else 'Removed'} '{s.name}' from the ecosystem"
                + ("" if result.code_deleted else f" (its code stays in {s.path})")
            )
            lines += _changes(result.wiring, result.dry_run)
        case SyncResult():
            if not result.wiring:
                lines.append("Everything derived from ecosystem.yaml is up to date.")
            else:
                lines.append(f"{would}{'update' if would else 'Updated'} the wiring:")
                lines += _changes(result.wiring, result.dry_run)
        case ListResult() if result.outdated_only:
            lines += outdated_lines(result)
        case ListResult():
            services = result.ecosystem.services
            drift = {t.name: t for t in result.templates}
            if not services:
                lines.append(
                    f"The {result.ecosystem.name} ecosystem has no services yet: "
                    "add one with `scaffold new backend NAME`."
                )
            else:
                rows = [["NAME", "KIND", "PATH", "PORT", "ROUTE", "TEMPLATE", "NEWER"]]
                rows += [
                    [
                        s.name,
                        s.kind,
                        f"{s.path} (missing)" if s.name in result.missing else s.path,
                        str(s.port),
                        s.route or "-",
                        f"{s.template.source} {s.template.version}",
                        _newer(drift.get(s.name)),
                    ]
                    for s in services
                ]
                lines += _table(rows)
            meta = drift.get(result.ecosystem.name)
            if meta is not None:
                lines.append(
                    f"Meta-project template: {meta.source} {meta.version}"
                    + (f" ({meta.latest} available)" if meta.update_available else "")
                )
            if any(t.update_available for t in result.templates):
                lines.append("Newer template versions exist: `scaffold update --all --dry-run` shows what they change.")
            lines += _missing_lines([s for s in services if s.name in result.missing])
        case DoctorResult():
            lines += doctor_lines(result)
        case GraphResult():
            lines.append(result.text.rstrip("\n"))
        case OnboardResult():
            lines += onboard_lines(result)
        case CheckResult():
            from scaffold.checks.report import render

            lines.append(render(result))
        case UpdateResult():
            from scaffold.update.report import lines as update_lines

            lines += update_lines(result)
        case AdoptResult():
            lines += adopt_lines(result)
        case DiffResult():
            if result.diff:
                lines.append(result.diff.rstrip("\n"))
            counts = {
                status: sum(1 for f in result.files if f.status == status)
                for status in ("added", "modified", "deleted")
            }
            summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
            lines.append(
                f"{result.name} differs from template {result.template.source} {result.template.version} in "
                f"{len(result.files)} files ({summary})"
                if result.files
                else f"{result.name} is exactly template {result.template.source} {result.template.version}."
            )
        case ProposeResult():
            from scaffold.update.report import lines as update_lines

            lines += [*update_lines(result.update), "", *proposal_lines(result)]
        case DeployResult() | RollbackResult() | StatusResult():
            lines += delivery_lines(result)
        case ChangesResult():
            if not result.services:
                lines.append(f"No service needs a new image since {result.since}.")
            lines += [f"{name}: {why}" for name, why in result.reasons.items()]
        case BuildResult():
            lines += build_lines(result)
        case RunTestsResult():
            lines += test_lines(result)
    return "\n".join(lines)


def outdated_lines(result: ListResult) -> list[str]:
    """`scaffold list --outdated`: only what is behind (or cannot be told), and what to run."""
    if not result.behind and not result.unknown:
        return ["Every service and the meta-project are on their template's newest version."]
    rows = [["NAME", "TEMPLATE", "VERSION", "NEWEST"]]
    rows += [
        [t.name, t.source, t.version, t.latest or "? (source not readable)"] for t in (*result.behind, *result.unknown)
    ]
    lines = _table(rows)
    if result.behind:
        lines.append(
            "`scaffold update --all --dry-run` shows what the newer versions change; "
            "`scaffold update --all` applies them."
        )
    return lines


def adopt_lines(result: AdoptResult) -> list[str]:
    s = result.service
    verb = "Would adopt" if result.dry_run else "Adopted"
    made = (
        "by hand"
        if result.made == "hand-written"
        else f"with {result.made}" + (f" from {result.made_from}" if result.made_from else "")
    )
    lines = [
        f"{verb} {s.kind} '{s.name}' at {s.path} (made {made}) on template {s.template.source} {result.base_version}"
        + (f", its own repository {s.repository}" if s.repository else "")
    ]
    if result.mapped:
        lines.append(
            "Answers taken: "
            + ", ".join(f"{m.their} -> {m.question}" if m.their != m.question else m.their for m in result.mapped)
        )
    if result.unmapped:
        lines.append("Answers not taken:")
        lines += [f"  {u.key} = {u.value}: {u.why}" for u in result.unmapped]
    lines += _changes(result.written, result.dry_run)
    lines.append("Wiring:")
    lines += _changes(result.wiring, result.dry_run)
    lines += [f"note: {n}" for n in result.notes]
    if not result.dry_run:
        lines += [
            "",
            "Next: commit the answers file (in the service's repository) and the meta-project; then",
            f"  scaffold diff {s.name}      what is the service's own, against template {result.base_version}",
            f"  scaffold update {s.name}    a three-way merge of newer template versions that keeps those edits",
        ]
    return lines


def proposal_lines(result: ProposeResult) -> list[str]:
    """`scaffold propose-updates`: per repository, its branch and pull request."""
    if not result.proposals:
        return ["No repository changed: nothing to propose."]
    rows = [["REPOSITORY", "PATH", "BRANCH", "RESULT", "PULL REQUEST"]]
    for p in result.proposals:
        pull = f"{p.pull_request} ({p.pull_request_action})" if p.pull_request else "-"
        rows.append([p.repository, p.path, p.branch, p.outcome, pull])
    return _table(rows) + [f"  {p.repository}: {p.reason}" for p in result.proposals if p.reason]


def _skipped_line(skipped: tuple[str, ...]) -> list[str]:
    if not skipped:
        return []
    return [f"Skipped (the cluster does not serve their API): {', '.join(skipped)} (docs/delivery.md)."]


def delivery_lines(result: DeployResult | RollbackResult | StatusResult) -> list[str]:
    where = f"{result.environment} (namespace {result.namespace})"
    lines: list[str] = []
    match result:
        case DeployResult():
            was = f"replaces revision {result.previous}" if result.previous else "first install"
            lines.append(
                f"Delivered {result.release} to {where}: revision {result.revision} ({was}), smoke tests passed."
            )
            lines += _table([["SERVICE", "IMAGE"], *([name, ref] for name, ref in result.images.items())])
            lines += _skipped_line(result.skipped)
            if result.delivered_images is not None:
                lines.append(f"Images delivered: {result.delivered_images}")
        case RollbackResult():
            if result.target is None:
                lines.append(f"Nothing rolled back in {where}: {result.reason}.")
            else:
                lines.append(
                    f"Rolled {result.release} in {where} back from revision {result.current} to {result.target} "
                    f"(now revision {result.revision}); smoke tests passed."
                )
        case StatusResult():
            if not result.revisions:
                lines.append(f"{result.release} is not installed in {where} (Kubernetes {result.kubernetes}).")
            else:
                current = result.revisions[-1]
                lines.append(
                    f"{result.release} in {where}: revision {current.number} ({current.status}), "
                    f"Kubernetes {result.kubernetes}"
                )
                rows = [["REVISION", "STATUS", "CHART", "UPDATED", "DESCRIPTION"]]
                rows += [[str(r.number), r.status, r.chart, r.updated, r.description] for r in result.revisions[-10:]]
                lines += _table(rows)
                target = result.rollback_target
                lines.append(
                    f"`scaffold rollback {result.environment}` would return to revision {target}."
                    if target
                    else f"`scaffold rollback {result.environment}` would do nothing (no good revision to return to)."
                )
                if result.images:
                    lines += _table([["SERVICE", "IMAGE"], *([name, ref] for name, ref in result.images.items())])
                if result.deployments:
                    rows = [["DEPLOYMENT", "READY"]]
                    rows += [[d.name, f"{d.ready}/{d.desired}"] for d in result.deployments]
                    lines += _table(rows)
            lines += _skipped_line(result.skipped)
    return lines


_PROGRESS_LOCK = threading.Lock()
LOG_TAIL = 60  # lines of a failed build's log or a failed test run's output shown in the text report


def _size(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def _tail(lines: tuple[str, ...], title: str) -> list[str]:
    shown = lines[-LOG_TAIL:]
    cut = f" (last {len(shown)} of {len(lines)} lines; --json has all)" if len(shown) < len(lines) else ""
    return ["", f"--- {title}{cut} ---", *shown, "---"]


def build_lines(result: BuildResult) -> list[str]:
    rows = [["SERVICE", "TARGET", "IMAGE", "SIZE", "BUILD", "DIGEST"]]
    for service in result.services:
        for image in service.images:
            rows.append(
                [
                    service.name,
                    image.target,
                    image.reference,
                    _size(image.size),
                    f"{image.seconds:.1f} s",
                    image.digest or "-",
                ]
            )
    lines = [f"Images built on {result.engine}:"]
    lines += _table(rows) if len(rows) > 1 else ["  (none)"]
    for service in result.services:
        if service.status == "failed":
            lines += ["", f"FAILED {service.name}: {service.failed_step}: {service.error}"]
            if service.log:
                lines += _tail(service.log, f"{service.name}: {service.failed_step} build log")
    if result.images_file is not None:
        lines += ["", f"Pushed by digest; recorded in {result.images_file} for delivery."]
    elif result.exit_code:
        lines += ["", "Nothing was recorded for delivery: every service must build (and push) first."]
    return lines


def test_lines(result: RunTestsResult) -> list[str]:
    mode = "strict" if result.strict else "report only (--strict makes them fail)"
    lines = [f"Test images run on {result.engine}; outdated-dependency and audit checks: {mode}."]
    rows = [["SERVICE", "RESULT", "TIME", "DEPENDENCIES", "IMAGE"]]
    for run in result.services:
        status = run.status.upper() if run.status != "passed" else run.status
        if run.exit_code not in (None, 0):
            status += f" (exit {run.exit_code})"
        rows.append([run.name, status, f"{run.seconds:.1f} s", ", ".join(run.dependencies) or "-", run.image])
    lines += _table(rows)
    for run in result.services:
        if run.status == "passed":
            continue
        if run.output:
            lines += _tail(run.output, f"{run.name}: output of its test image")
        if run.reason:
            lines += ["", f"{run.name}: {run.reason}"]
    return lines


def progress(event: Progress) -> None:
    """One line on standard error per step of a long command (standard output stays the result's)."""
    verbs = {"started": "...", "done": "done", "failed": "FAILED"}
    took = f" in {event.seconds:.1f} s" if event.seconds is not None else ""
    detail = f": {event.detail}" if event.detail else ""
    with _PROGRESS_LOCK:  # services report from several threads: one whole line at a time
        print(f"{event.service}: {event.step} {verbs[event.state]}{took}{detail}", file=sys.stderr, flush=True)


def tools_table(tools: tuple[ToolStatus, ...]) -> list[str]:
    """The doctor's table: each tool found or not, its version, what it is for, where it is or how to get it."""
    rows = [["CHECK", "STATUS", "VERSION", "NEEDED FOR", "WHERE / HOW TO GET IT"]]
    for f in tools:
        status = "ok" if f.found else "MISSING" if f.required else "missing"
        rows.append([f.name, status, f.version or "-", f.needed_for, f.detail if f.found else f.install])
    return _table(rows)


def doctor_lines(result: DoctorResult) -> list[str]:
    lines = tools_table(result.tools)
    if result.root is None:
        lines.append("(not in a meta-project: the environments' kubectl contexts were not checked)")
    if result.missing:
        names = ", ".join(f.name for f in result.missing)
        lines += ["", f"Missing and required: {names}. Install them as shown above; scaffold installs nothing."]
    else:
        lines += ["", "Everything required is here" + (" (delivery included)." if result.delivery else ".")]
    return lines


def onboard_lines(result: OnboardResult) -> list[str]:
    lines: list[str] = [result.notice, ""] if result.notice and not result.shown else []
    if not result.shown:
        for report in result.steps:
            lines += [report.text.rstrip("\n"), ""]
            if report.tools:
                lines += ["On this machine:", *tools_table(report.tools), ""]
            if report.created:
                lines += [text(report.created), ""]
    if not result.steps and result.next_step is None:
        lines.append("Every onboarding step is done: `scaffold onboard --step N` runs one again; --restart resets.")
    elif result.next_step is None:
        lines.append("Onboarding complete. docs/onboarding.md has every step to read again.")
    else:
        done = ", ".join(map(str, result.completed)) or "none"
        lines.append(
            f"Steps done: {done}. `scaffold onboard` continues with step {result.next_step} "
            f"(or `scaffold onboard --step {result.next_step}`)."
        )
    return lines


def _newer(status: TemplateStatus | None) -> str:
    if status is None or status.latest is None:
        return "?"
    return status.latest if status.update_available else "-"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def show(result: Result, *, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(_jsonable(asdict(result)), indent=2, sort_keys=True))
    else:
        print(text(result))


def notice(line: str) -> None:
    """A line about what a command is doing meanwhile (e.g. waiting for the lock), on standard error."""
    print(f"note: {line}", file=sys.stderr, flush=True)


def error(err: ScaffoldError) -> None:
    print(f"error: {err.message}", file=sys.stderr)
    if err.hint:
        print(f"hint: {err.hint}", file=sys.stderr)
